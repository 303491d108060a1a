// mixerc tune: measures schedule candidates of a spec's kernels on this machine and records every
// measurement in the tuning database (tuning/TuningDb.h).
//
// Per distinct kernel that has schedule records (today: the GEMM family: dense layers along
// channels and tokens, the patch embedding), candidates are drawn from the family's record space
// (tuning/SearchSpace.h) in a seeded order, the default template first. Candidates run in batches
// in a child process (a candidate that crashes or hangs takes down the child, never the tuner;
// the batch is then re-run one candidate at a time to find which), JIT-compiled for the target
// on the plan's real buffer shapes at --batch images, checked against the default schedule's
// output on the same inputs, and timed interleaved with the default in the same child (rounds
// of every candidate in turn, so host drift does not pick the winner): median of the rounds, the
// spread of those within 1.5x of it. The time budget is split across kernels by their share of
// the model's time (default time x calls per step); budget a kernel leaves unused goes on to
// the next.
#ifndef MIXERC_TUNING_TUNER_H
#define MIXERC_TUNING_TUNER_H

#include <cstdint>
#include <string>

namespace mixerc {

struct TuneOptions {
  std::string spec;
  std::string db;
  std::string target = ""; ///< "" = the spec's first target
  int trials = 32;              ///< candidates per kernel besides the default
  double budget_seconds = 600;  ///< the whole tune
  double candidate_timeout = 60; ///< seconds a candidate may take to compile and run
  bool resume = false;          ///< skip candidates the database already holds
  bool training = false;        ///< also the training step's kernels
  int64_t batch = 8;            ///< images of the buffers the kernels are timed on
  int threads = 0;              ///< 0: all cores
  uint64_t seed = 0;
};

/// Exit status; progress on stderr, the summary table on stdout.
int runTune(const TuneOptions &options);

/// mixerc tune --show --db FILE: the records per kernel, target and CPU.
int showTuningDb(const std::string &db);

} // namespace mixerc

#endif
