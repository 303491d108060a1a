// mixerc bench: load a generated library and time its inference.
#ifndef MIXERC_DRIVER_BENCH_H
#define MIXERC_DRIVER_BENCH_H

#include <string>

namespace mixerc {

struct BenchOptions {
  std::string library;
  int64_t batch = 1;
  int threads = 0;
  double seconds = 3.0; ///< minimum measuring time
  std::string weights;  ///< optional safetensors file
  bool profile = false; ///< per-kernel times and a memory bandwidth probe
  bool train = false;   ///< time NAME_train_step instead of NAME_infer
};

/// Prints one line of results; returns the process exit status.
int runBench(const BenchOptions &options);

} // namespace mixerc

#endif
