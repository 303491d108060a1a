// See Distributed.h.
#include "driver/Distributed.h"

#include <mpi.h>

#include <algorithm>
#include <chrono>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <thread>

#include <fmt/format.h>

#include "driver/ModelLibrary.h"

namespace mixerc {
namespace {

/// Whether an MPI launcher (Open MPI's mpirun, or a PMI/PMIx one) started this process.
bool launchedByMpi() {
  for (const char *name : {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK"})
    if (std::getenv(name))
      return true;
  return false;
}

MPI_Comm comm(void *local) { return static_cast<MPI_Comm>(local); }

/// MPI counts are int: large arrays go in pieces of at most 2^30 elements.
template <typename T, typename Call> void inPieces(T *data, int64_t count, Call call) {
  constexpr int64_t kPiece = int64_t(1) << 30;
  for (int64_t done = 0; done < count; done += kPiece)
    call(data + done, int(std::min(kPiece, count - done)));
}

} // namespace

bool ProcessGroup::parseMode(const std::string &text, Mode *mode, std::string *error) {
  if (text == "auto")
    *mode = Mode::Auto;
  else if (text == "mpi")
    *mode = Mode::Mpi;
  else if (text == "none")
    *mode = Mode::None;
  else {
    *error = fmt::format("--distributed: unknown '{}' (expected auto, mpi or none)", text);
    return false;
  }
  return true;
}

void ProcessGroup::start(Mode mode) {
  if (mode == Mode::None || (mode == Mode::Auto && !launchedByMpi()))
    return;
  MPI_Init(nullptr, nullptr);
  mpi_ = true;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
  MPI_Comm_size(MPI_COMM_WORLD, &size_);
  MPI_Comm local = MPI_COMM_NULL;
  MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, rank_, MPI_INFO_NULL, &local);
  MPI_Comm_rank(local, &localRank_);
  MPI_Comm_size(local, &localSize_);
  localComm_ = local;
}

int ProcessGroup::threadsPerRank() const {
  return std::max(1, int(std::thread::hardware_concurrency()) / localSize_);
}

ProcessGroup::~ProcessGroup() {
  if (!mpi_)
    return;
  MPI_Comm local = comm(localComm_);
  MPI_Comm_free(&local);
  MPI_Finalize();
}

std::string ProcessGroup::prefix() const {
  return distributed() ? fmt::format("rank {} of {}: ", rank_, size_) : std::string();
}

void ProcessGroup::sum(float *data, int64_t count) const {
  if (distributed())
    inPieces(data, count, [](float *piece, int n) {
      MPI_Allreduce(MPI_IN_PLACE, piece, n, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
    });
}

void ProcessGroup::sum(double *data, int64_t count) const {
  if (distributed())
    inPieces(data, count, [](double *piece, int n) {
      MPI_Allreduce(MPI_IN_PLACE, piece, n, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
    });
}

void ProcessGroup::broadcast(std::vector<char> *bytes) const {
  if (!distributed())
    return;
  int64_t size = int64_t(bytes->size());
  broadcast(&size);
  bytes->resize(size_t(size));
  inPieces(bytes->data(), size,
           [](char *piece, int n) { MPI_Bcast(piece, n, MPI_BYTE, 0, MPI_COMM_WORLD); });
}

void ProcessGroup::broadcast(int64_t *value) const {
  if (distributed())
    MPI_Bcast(value, 1, MPI_INT64_T, 0, MPI_COMM_WORLD);
}

void ProcessGroup::broadcastLocal(std::string *text) const {
  if (!mpi_)
    return;
  int size = int(std::min<size_t>(text->size(), INT_MAX));
  MPI_Bcast(&size, 1, MPI_INT, 0, comm(localComm_));
  text->resize(size_t(size));
  MPI_Bcast(text->data(), size, MPI_CHAR, 0, comm(localComm_));
}

std::vector<uint64_t> ProcessGroup::gather(uint64_t value) const {
  std::vector<uint64_t> all(size_t(size_), value);
  if (distributed())
    MPI_Allgather(&value, 1, MPI_UINT64_T, all.data(), 1, MPI_UINT64_T, MPI_COMM_WORLD);
  return all;
}

void ProcessGroup::barrier() const {
  if (distributed())
    MPI_Barrier(MPI_COMM_WORLD);
}

void ProcessGroup::fatal(const char *verb, const std::string &message, int status) const {
  fmt::print(stderr, "mixerc {}: {}{}\n", verb, prefix(), message);
  std::fflush(stderr);
  if (mpi_)
    MPI_Abort(MPI_COMM_WORLD, status);
  std::exit(status);
}

mixer_status dataParallelStep(const ModelLibrary &lib, void *m, const ProcessGroup &group,
                              const float *images, const int32_t *labels, int64_t share,
                              int64_t count, const mixer_train_options &o, float *loss,
                              double *syncSeconds) {
  float local = 0;
  if (mixer_status s = lib.computeGradients(m, images, labels, share, &o, &local))
    return s;
  float *grads = nullptr, *stats = nullptr;
  int64_t numGrads = 0, numStats = 0;
  if (mixer_status s = lib.gradients(m, &grads, &numGrads))
    return s;
  if (mixer_status s = lib.runningStats(m, &stats, &numStats))
    return s;
  const auto start = std::chrono::steady_clock::now();
  // Equal shares of two ranks weigh 0.5, a power of two: the scaled sum rounds as the plain one.
  const float weight = float(double(share) / double(count));
  for (float *array : {grads, stats}) {
    const int64_t n = array == grads ? numGrads : numStats;
    for (int64_t i = 0; i < n; ++i)
      array[i] *= weight;
    group.sum(array, n);
  }
  double weighted = double(weight) * double(local);
  group.sum(&weighted, 1);
  *loss = float(weighted);
  if (syncSeconds)
    *syncSeconds +=
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return lib.applyGradients(m, &o);
}

} // namespace mixerc
