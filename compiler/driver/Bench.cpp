// mixerc bench (see Bench.h): dlopens lib<name>.so, runs warm-up passes, then times inference for
// at least the requested seconds and reports the median latency, images/s and GFLOP/s. With
// --profile it then times each kernel call through NAME_profile and compares the memory-bound
// kernels' traffic with a bandwidth probe run in this process.
#include "driver/Bench.h"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <random>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "driver/Distributed.h"
#include "driver/ModelLibrary.h"
#include "mixer/runtime.h"

namespace mixerc {
namespace {

/// Memory bandwidth the way a streaming kernel sees it: `threads` threads each scale their share of
/// a 512 MiB buffer into another (one read and one write per element, far beyond the caches);
/// the best of five passes, in GB/s of bytes read plus written.
double bandwidthProbe(int threads) {
  threads = std::max(1, threads);
  const size_t n = size_t(64) << 20; // floats per buffer: 256 MiB each
  std::vector<float> src(n, 1.0f), dst(n, 0.0f);
  double best = 0;
  for (int pass = 0; pass < 5; ++pass) {
    auto t0 = std::chrono::steady_clock::now();
    std::vector<std::thread> workers;
    for (int t = 0; t < threads; ++t)
      workers.emplace_back([&, t] {
        const size_t begin = n * size_t(t) / size_t(threads),
                     end = n * size_t(t + 1) / size_t(threads);
        const float *in = src.data();
        float *out = dst.data();
        for (size_t i = begin; i < end; ++i)
          out[i] = in[i] * 1.0001f + 0.5f;
      });
    for (std::thread &w : workers)
      w.join();
    double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    best = std::max(best, 2.0 * double(n) * sizeof(float) / seconds * 1e-9);
  }
  return best;
}

/// One profiled call: fills steps[0 .. capacity) and the step count.
using ProfileCall = std::function<mixer_status(mixer_step_profile *, int32_t, int32_t *)>;

/// Times every step over `runs` profiled calls (keeping each step's fastest) and prints one line
/// per kernel: its steps summed, GFLOP/s, GB/s and the fraction of the probe's bandwidth.
int printProfile(const ProfileCall &profile, int threads, double seconds,
                 const char *(*lastError)()) {
  int32_t count = 0;
  profile(nullptr, 0, &count); // asks the size
  std::vector<mixer_step_profile> steps(static_cast<size_t>(count)), best;
  auto start = std::chrono::steady_clock::now();
  for (int run = 0;
       run < 5 ||
       std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() < seconds;
       ++run) {
    if (profile(steps.data(), count, &count) != MIXER_OK) {
      fmt::print(stderr, "mixerc bench: {}\n", lastError());
      return 1;
    }
    if (best.empty())
      best = steps;
    for (size_t i = 0; i < steps.size(); ++i)
      best[i].seconds = std::min(best[i].seconds, steps[i].seconds);
  }
  struct Total {
    int steps = 0;
    double seconds = 0, flops = 0, bytes = 0;
  };
  std::vector<std::pair<std::string, Total>> kernels; // in first-use order
  double all = 0;
  for (const mixer_step_profile &s : best) {
    auto it = std::find_if(kernels.begin(), kernels.end(),
                           [&](const auto &k) { return k.first == s.kernel; });
    if (it == kernels.end())
      it = kernels.insert(kernels.end(), {s.kernel, Total{}});
    it->second.steps += 1;
    it->second.seconds += s.seconds;
    it->second.flops += s.flops;
    it->second.bytes += s.bytes;
    all += s.seconds;
  }
  const double probe =
      bandwidthProbe(threads > 0 ? threads : int(std::thread::hardware_concurrency()));
  fmt::print("bandwidth_probe_gbps={:.1f}\n", probe);
  for (const auto &[kernel, t] : kernels) {
    double gbps = t.bytes / t.seconds * 1e-9;
    fmt::print("kernel={} steps={} ms={:.3f} share={:.3f} gflops={:.1f} gbps={:.1f} "
               "of_bandwidth={:.2f}\n",
               kernel, t.steps, t.seconds * 1e3, t.seconds / all, t.flops / t.seconds * 1e-9,
               gbps, gbps / probe);
  }
  return 0;
}

} // namespace

int runBench(const BenchOptions &o) {
  // Under mpirun: data-parallel train steps, each rank its share of the batch (dataParallelStep).
  ProcessGroup group;
  group.start(ProcessGroup::Mode::Auto);
  if (group.distributed() && (!o.train || o.profile))
    group.fatal("bench", "under MPI, bench times data-parallel train steps: pass --train "
                         "(without --profile)");
  if (o.batch < group.size())
    group.fatal("bench", fmt::format("--batch {} gives some of the {} ranks no image", o.batch,
                                     group.size()));
  const Share share(o.batch, group.rank(), group.size());
  const int threads = o.threads || !group.distributed() ? o.threads : group.threadsPerRank();
  ModelLibrary lib;
  std::string error;
  if (!lib.open(o.library, &error))
    group.fatal("bench", error);
  const mixer_model_info &model = *lib.info();
  mixer_options options;
  mixer_options_init(&options);
  options.num_threads = threads;
  void *m = nullptr;
  if (lib.create(&options, &m) != MIXER_OK ||
      (!o.weights.empty() && lib.load(m, o.weights.c_str()) != MIXER_OK))
    group.fatal("bench", lib.lastError(), 1);
  std::vector<float> images(
      size_t(share.size() * model.channels * model.height * model.width));
  std::vector<float> logits(size_t(o.batch * model.classes));
  std::mt19937 random(0);
  std::normal_distribution<float> normal;
  for (float &x : images)
    x = normal(random);

  // --train: random labels, AdamW with learning rate 0 (the same kernels as any rate, and the
  // weights stay where they are however long the benchmark runs).
  std::vector<int32_t> labels(size_t(share.size()));
  for (size_t i = 0; i < labels.size(); ++i)
    labels[i] = int32_t((size_t(share.begin) + i) % size_t(model.classes));
  mixer_train_options train;
  mixer_train_options_init(&train);
  train.learning_rate = 0.0f;
  if (o.train && !lib.trainStep)
    group.fatal("bench", fmt::format("{} was compiled without training = true", o.library));
  double syncSeconds = 0;
  auto run = [&]() {
    float loss = 0;
    if (group.distributed())
      return dataParallelStep(lib, m, group, images.data(), labels.data(), share.size(),
                              o.batch, train, &loss, &syncSeconds);
    return o.train ? lib.trainStep(m, images.data(), labels.data(), o.batch, &train, nullptr)
                   : lib.infer(m, images.data(), o.batch, logits.data());
  };
  using Clock = std::chrono::steady_clock;
  std::vector<double> times, syncs;
  auto start = Clock::now();
  for (int i = 0; i < 2; ++i) // warm-up: page in weights and activations, start the thread pool
    run();
  // Rank 0's clock decides when to stop, so that every rank runs the same steps.
  auto more = [&] {
    int64_t go = times.size() < 5 ||
                 std::chrono::duration<double>(Clock::now() - start).count() < o.seconds;
    group.broadcast(&go);
    return go != 0;
  };
  while (more()) {
    auto t0 = Clock::now();
    syncSeconds = 0;
    if (run() != MIXER_OK)
      group.fatal("bench", lib.lastError(), 1);
    times.push_back(std::chrono::duration<double>(Clock::now() - t0).count());
    syncs.push_back(syncSeconds);
  }
  std::sort(times.begin(), times.end());
  std::sort(syncs.begin(), syncs.end());
  double median = times[times.size() / 2];
  double imagesPerSecond = double(o.batch) / median;
  // A train step is counted as 3 forward passes (forward, and the two backward products).
  const double flops = model.flops_per_image * (o.train ? 3.0 : 1.0);
  // The all-reduce time includes waiting for the slowest rank to finish its backward pass.
  if (group.root())
    fmt::print("model={} mode={} batch={} threads={} {}runs={} median_ms={:.3f} min_ms={:.3f} "
               "images_per_s={:.2f} gflops={:.1f}{}\n",
               model.name, o.train ? "train" : "infer", o.batch, threads,
               group.distributed() ? fmt::format("ranks={} ", group.size()) : "", times.size(),
               median * 1e3, times.front() * 1e3, imagesPerSecond, imagesPerSecond * flops * 1e-9,
               group.distributed()
                   ? fmt::format(" allreduce_ms={:.3f} allreduce_share={:.3f}",
                                 syncs[syncs.size() / 2] * 1e3, syncs[syncs.size() / 2] / median)
                   : "");
  ProfileCall call = [&](mixer_step_profile *steps, int32_t capacity, int32_t *count) {
    return o.train ? lib.trainProfile(m, images.data(), labels.data(), o.batch, &train, nullptr,
                                      steps, capacity, count)
                   : lib.profile(m, images.data(), o.batch, logits.data(), steps, capacity, count);
  };
  int status = o.profile ? printProfile(call, o.threads, o.seconds, lib.lastError) : 0;
  lib.destroy(m);
  return status;
}

} // namespace mixerc
