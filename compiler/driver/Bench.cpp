// mixerc bench (see Bench.h): dlopens lib<name>.so, runs warm-up passes, then times inference for
// at least the requested seconds and reports the median latency, images/s and GFLOP/s.
#include "driver/Bench.h"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <dlfcn.h>
#include <filesystem>
#include <random>
#include <vector>

#include <fmt/format.h>

#include "mixer/runtime.h"

namespace mixerc {
namespace {

template <typename Fn> Fn symbol(void *handle, const std::string &name) {
  return reinterpret_cast<Fn>(dlsym(handle, name.c_str()));
}

} // namespace

int runBench(const BenchOptions &o) {
  std::string file = std::filesystem::path(o.library).filename().string();
  if (file.rfind("lib", 0) != 0 || file.size() < 7 || file.substr(file.size() - 3) != ".so") {
    fmt::print(stderr, "mixerc bench: {}: expected a library named lib<name>.so\n", o.library);
    return 2;
  }
  std::string name = file.substr(3, file.size() - 6);
  void *handle = dlopen(std::filesystem::absolute(o.library).c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!handle) {
    fmt::print(stderr, "mixerc bench: {}\n", dlerror());
    return 2;
  }
  auto info = symbol<const mixer_model_info *(*)()>(handle, name + "_info");
  auto create = symbol<mixer_status (*)(const mixer_options *, void **)>(handle, name + "_create");
  auto destroy = symbol<void (*)(void *)>(handle, name + "_destroy");
  auto load = symbol<mixer_status (*)(void *, const char *)>(handle, name + "_load_weights");
  auto infer =
      symbol<mixer_status (*)(void *, const float *, int64_t, float *)>(handle, name + "_infer");
  auto lastError = symbol<const char *(*)()>(handle, "mixer_last_error");
  if (!info || !create || !destroy || !infer || !load || !lastError) {
    fmt::print(stderr, "mixerc bench: {} is not a mixerc library for model '{}'\n", o.library,
               name);
    return 2;
  }
  const mixer_model_info &model = *info();
  mixer_options options;
  mixer_options_init(&options);
  options.num_threads = o.threads;
  void *m = nullptr;
  if (create(&options, &m) != MIXER_OK ||
      (!o.weights.empty() && load(m, o.weights.c_str()) != MIXER_OK)) {
    fmt::print(stderr, "mixerc bench: {}\n", lastError());
    destroy(m);
    return 1;
  }
  std::vector<float> images(size_t(o.batch * model.channels * model.height * model.width));
  std::vector<float> logits(size_t(o.batch * model.classes));
  std::mt19937 random(0);
  std::normal_distribution<float> normal;
  for (float &x : images)
    x = normal(random);

  using Clock = std::chrono::steady_clock;
  std::vector<double> times;
  auto start = Clock::now();
  for (int i = 0; i < 2; ++i) // warm-up: page in weights and activations, start the thread pool
    infer(m, images.data(), o.batch, logits.data());
  while (times.size() < 5 ||
         std::chrono::duration<double>(Clock::now() - start).count() < o.seconds) {
    auto t0 = Clock::now();
    if (infer(m, images.data(), o.batch, logits.data()) != MIXER_OK) {
      fmt::print(stderr, "mixerc bench: {}\n", lastError());
      destroy(m);
      return 1;
    }
    times.push_back(std::chrono::duration<double>(Clock::now() - t0).count());
  }
  destroy(m);
  std::sort(times.begin(), times.end());
  double median = times[times.size() / 2];
  double imagesPerSecond = double(o.batch) / median;
  fmt::print("model={} batch={} threads={} runs={} median_ms={:.3f} min_ms={:.3f} "
             "images_per_s={:.2f} gflops={:.1f}\n",
             model.name, o.batch, o.threads, times.size(), median * 1e3, times.front() * 1e3,
             imagesPerSecond, imagesPerSecond * model.flops_per_image * 1e-9);
  return 0;
}

} // namespace mixerc
