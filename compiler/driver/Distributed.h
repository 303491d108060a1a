// The process group of data-parallel training and benchmarking: MPI (Open MPI) when mixerc runs
// under mpirun (or with --distributed mpi), else a group of one whose collectives do nothing.
// Generated libraries never see MPI: mixerc all-reduces their gradient arena between
// NAME_compute_gradients and NAME_apply_gradients.
//
// Faults: MPI's default error handler ends the job on a failed collective, and fatal() ends
// every rank through MPI_Abort after printing the message with this rank's number, so a failure
// anywhere ends the whole job with a non-zero status instead of leaving the others waiting.
#ifndef MIXERC_DRIVER_DISTRIBUTED_H
#define MIXERC_DRIVER_DISTRIBUTED_H

#include <cstdint>
#include <string>
#include <vector>

#include "mixer/runtime.h"

namespace mixerc {

class ModelLibrary;

class ProcessGroup {
public:
  enum class Mode { Auto, Mpi, None };

  /// Parses --distributed's value (auto, mpi, none); false with a message otherwise.
  static bool parseMode(const std::string &text, Mode *mode, std::string *error);

  ProcessGroup() = default;
  ProcessGroup(const ProcessGroup &) = delete;
  ProcessGroup &operator=(const ProcessGroup &) = delete;
  ~ProcessGroup(); ///< MPI_Finalize, when MPI was started

  /// Starts MPI when `mode` is Mpi, or Auto and an MPI launcher started this process.
  void start(Mode mode);

  int rank() const { return rank_; }
  int size() const { return size_; }
  bool root() const { return rank_ == 0; }
  bool distributed() const { return size_ > 1; }
  /// Whether this rank is the first of the ranks on its machine (it compiles specs there).
  bool localRoot() const { return localRank_ == 0; }
  /// The default thread count of one rank: this machine's cores shared by its ranks.
  int threadsPerRank() const;

  /// "rank R of N: " in a distributed run, else "".
  std::string prefix() const;

  /// In-place sums across the group (no-ops in a group of one).
  void sum(float *data, int64_t count) const;
  void sum(double *data, int64_t count) const;
  /// Rank 0's bytes on every rank (resized there).
  void broadcast(std::vector<char> *bytes) const;
  void broadcast(int64_t *value) const;
  /// The local root's string on every rank of its machine.
  void broadcastLocal(std::string *text) const;
  /// Every rank's value, in rank order.
  std::vector<uint64_t> gather(uint64_t value) const;
  void barrier() const;

  /// Prints `message` (with verb and rank) on stderr and ends the job: every rank of a
  /// distributed run through MPI_Abort, a single process through exit.
  [[noreturn]] void fatal(const char *verb, const std::string &message, int status = 2) const;

private:
  bool mpi_ = false;
  int rank_ = 0, size_ = 1, localRank_ = 0, localSize_ = 1;
  void *localComm_ = nullptr; ///< the MPI communicator of this machine's ranks (MPI_Comm)
};

/// Images [begin, end) of a batch of `count`: a rank's contiguous share.
struct Share {
  int64_t begin, end;
  Share(int64_t count, int rank, int ranks)
      : begin(count * rank / ranks), end(count * (rank + 1) / ranks) {}
  int64_t size() const { return end - begin; }
};

/// One data-parallel train step of `lib`'s model `m`: this rank's gradients of its `share`
/// images, summed across the group with weights share / count (so the result is the gradient
/// of the mean loss over all `count` images of the global batch), BatchNorm's running
/// statistics averaged likewise, then the same optimizer update on every rank. *loss is the
/// global batch's mean loss; with `syncSeconds`, the time of the all-reduces is added to it.
mixer_status dataParallelStep(const ModelLibrary &lib, void *m, const ProcessGroup &group,
                              const float *images, const int32_t *labels, int64_t share,
                              int64_t count, const mixer_train_options &o, float *loss,
                              double *syncSeconds);

} // namespace mixerc

#endif
