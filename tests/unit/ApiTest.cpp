// The generated C API of a compiled model (tanh_mixer: 1x40x24 images, 5 classes, compiled with
// training = true): argument checking, weight files good and bad (a refused file keeps the
// previous weights), save/load round trips, seeded initialisation, batch independence, and the
// train step's argument and option checks and optimizer-state files.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <sys/resource.h>
#include <unistd.h>
#include <fstream>
#include <atomic>
#include <random>
#include <thread>
#include <string>
#include <utility>
#include <vector>

#include "ApiTestSupport.h"
#include "tanh_mixer.h"

using ::testing::HasSubstr;

namespace {

struct Tensor {
  std::string name, dtype = "F32";
  std::vector<int64_t> shape;
};

/// tanh_mixer's parameters in timm's names and layouts (see specs/README.md).
std::vector<Tensor> parameters() {
  std::vector<Tensor> t = {{"stem.proj.weight", "F32", {20, 1, 8, 8}}, {"stem.proj.bias", "F32", {20}}};
  for (const char *n : {"norm1", "norm2"}) {
    t.push_back({std::string("blocks.0.") + n + ".weight", "F32", {20}});
    t.push_back({std::string("blocks.0.") + n + ".bias", "F32", {20}});
  }
  t.push_back({"blocks.0.mlp_tokens.fc1.weight", "F32", {12, 15}});
  t.push_back({"blocks.0.mlp_tokens.fc1.bias", "F32", {12}});
  t.push_back({"blocks.0.mlp_tokens.fc2.weight", "F32", {15, 12}});
  t.push_back({"blocks.0.mlp_tokens.fc2.bias", "F32", {15}});
  t.push_back({"blocks.0.mlp_channels.fc1.weight", "F32", {36, 20}});
  t.push_back({"blocks.0.mlp_channels.fc1.bias", "F32", {36}});
  t.push_back({"blocks.0.mlp_channels.fc2.weight", "F32", {20, 36}});
  t.push_back({"blocks.0.mlp_channels.fc2.bias", "F32", {20}});
  t.push_back({"norm.weight", "F32", {20}});
  t.push_back({"norm.bias", "F32", {20}});
  t.push_back({"head.weight", "F32", {5, 20}});
  t.push_back({"head.bias", "F32", {5}});
  return t;
}

/// Writes a safetensors file of random values, independently of the runtime's writer.
void writeWeights(const std::string &path, const std::vector<Tensor> &tensors, uint32_t seed,
                  size_t truncateBy = 0) {
  std::mt19937 random(seed);
  std::normal_distribution<float> normal(0.0f, 0.3f);
  std::string header = "{";
  std::string data;
  for (const Tensor &t : tensors) {
    size_t count = 1;
    for (int64_t d : t.shape)
      count *= size_t(d);
    size_t bytes = count * (t.dtype == "F64" || t.dtype == "I64" ? 8 : 4);
    std::string shape;
    for (int64_t d : t.shape)
      shape += (shape.empty() ? "" : ",") + std::to_string(d);
    header += (header.size() > 1 ? "," : "") + std::string("\"") + t.name + "\":{\"dtype\":\"" +
              t.dtype + "\",\"shape\":[" + shape + "],\"data_offsets\":[" +
              std::to_string(data.size()) + "," + std::to_string(data.size() + bytes) + "]}";
    if (t.dtype == "I64") { // counters and optimizer steps: 3 each
      for (size_t i = 0; i < count; ++i) {
        int64_t v = 3;
        data.append(reinterpret_cast<const char *>(&v), 8);
      }
      continue;
    }
    for (size_t i = 0; i < bytes / 4; ++i) {
      float v = normal(random);
      data.append(reinterpret_cast<const char *>(&v), 4);
    }
  }
  header += "}";
  uint64_t n = header.size();
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char *>(&n), 8);
  out << header << data.substr(0, data.size() - truncateBy);
}

class Api : public ::testing::Test {
protected:
  void SetUp() override {
    ASSERT_EQ(tanh_mixer_create(nullptr, &model), MIXER_OK) << mixer_last_error();
    weights = tempPath("good.safetensors");
    writeWeights(weights, parameters(), 3);
    ASSERT_EQ(tanh_mixer_load_weights(model, weights.c_str()), MIXER_OK) << mixer_last_error();
  }
  void TearDown() override {
    tanh_mixer_destroy(model);
    std::remove(weights.c_str());
  }
  std::vector<float> infer(int64_t batch) {
    std::vector<float> x = images(batch), logits(size_t(batch * kClasses));
    EXPECT_EQ(tanh_mixer_infer(model, x.data(), batch, logits.data()), MIXER_OK)
        << mixer_last_error();
    return logits;
  }

  tanh_mixer_model *model = nullptr;
  std::string weights;
};

TEST(ApiCreate, ArgumentsAndOptions) {
  EXPECT_EQ(tanh_mixer_create(nullptr, nullptr), MIXER_ERROR_INVALID_ARGUMENT);
  EXPECT_THAT(mixer_last_error(), HasSubstr("tanh_mixer_create: out is NULL"));
  tanh_mixer_model *model = reinterpret_cast<tanh_mixer_model *>(1);
  mixer_options opts;
  mixer_options_init(&opts);
  opts.abi_version = MIXER_ABI_VERSION + 1;
  EXPECT_EQ(tanh_mixer_create(&opts, &model), MIXER_ERROR_UNSUPPORTED);
  EXPECT_EQ(model, nullptr);
  EXPECT_THAT(mixer_last_error(), HasSubstr("ABI mismatch"));
  mixer_options_init(&opts);
  opts.num_threads = -1;
  EXPECT_EQ(tanh_mixer_create(&opts, &model), MIXER_ERROR_INVALID_ARGUMENT);
  EXPECT_THAT(mixer_last_error(), HasSubstr("num_threads is -1"));
  mixer_options_init(&opts);
  opts.device = MIXER_DEVICE_CUDA;
  EXPECT_EQ(tanh_mixer_create(&opts, &model), MIXER_ERROR_UNSUPPORTED);
  tanh_mixer_destroy(nullptr); // NULL-safe
  const mixer_model_info *info = tanh_mixer_info();
  EXPECT_EQ(info->classes, kClasses);
  EXPECT_EQ(info->height, 40);
  EXPECT_EQ(info->width, 24);
  EXPECT_STREQ(info->family, "mlp_mixer");
}

TEST(ApiCreate, SeededInitialisationIsDeterministic) {
  mixer_options opts;
  mixer_options_init(&opts);
  std::string files[3];
  for (int i = 0; i < 3; ++i) {
    opts.seed = i < 2 ? 7 : 8;
    tanh_mixer_model *model = nullptr;
    ASSERT_EQ(tanh_mixer_create(&opts, &model), MIXER_OK);
    std::string path = tempPath("seed" + std::to_string(i));
    ASSERT_EQ(tanh_mixer_save_weights(model, path.c_str()), MIXER_OK) << mixer_last_error();
    files[i] = readFile(path);
    std::remove(path.c_str());
    tanh_mixer_destroy(model);
  }
  EXPECT_EQ(files[0], files[1]);
  EXPECT_NE(files[0], files[2]);
}

TEST_F(Api, InferArguments) {
  std::vector<float> x = images(1), logits(kClasses);
  EXPECT_EQ(tanh_mixer_infer(nullptr, x.data(), 1, logits.data()), MIXER_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(tanh_mixer_infer(model, nullptr, 1, logits.data()), MIXER_ERROR_INVALID_ARGUMENT);
  EXPECT_THAT(mixer_last_error(), HasSubstr("images is NULL"));
  EXPECT_EQ(tanh_mixer_infer(model, x.data(), 1, nullptr), MIXER_ERROR_INVALID_ARGUMENT);
  EXPECT_THAT(mixer_last_error(), HasSubstr("logits is NULL"));
  for (int64_t batch : {int64_t(0), int64_t(-1), int64_t(1) << 40}) {
    EXPECT_EQ(tanh_mixer_infer(model, x.data(), batch, logits.data()),
              MIXER_ERROR_INVALID_ARGUMENT);
    EXPECT_THAT(mixer_last_error(), HasSubstr("batch is " + std::to_string(batch)));
  }
  EXPECT_EQ(tanh_mixer_load_weights(nullptr, weights.c_str()), MIXER_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(tanh_mixer_load_weights(model, nullptr), MIXER_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(tanh_mixer_save_weights(nullptr, weights.c_str()), MIXER_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(tanh_mixer_save_weights(model, nullptr), MIXER_ERROR_INVALID_ARGUMENT);
}

TEST_F(Api, ProfileTimesEveryStepAndInfersTheSame) {
  const int64_t batch = 3;
  std::vector<float> x = images(batch), logits(size_t(batch * kClasses));
  int32_t count = -1;
  EXPECT_EQ(tanh_mixer_profile(model, x.data(), batch, logits.data(), nullptr, 0, &count),
            MIXER_ERROR_INVALID_ARGUMENT); // capacity 0 asks for the step count
  EXPECT_THAT(mixer_last_error(), HasSubstr("capacity is 0 but the model runs"));
  ASSERT_GT(count, 0);
  EXPECT_EQ(tanh_mixer_profile(model, x.data(), batch, logits.data(), nullptr, count, &count),
            MIXER_ERROR_INVALID_ARGUMENT);
  EXPECT_THAT(mixer_last_error(), HasSubstr("steps is NULL"));
  std::vector<mixer_step_profile> steps(static_cast<size_t>(count));
  EXPECT_EQ(tanh_mixer_profile(model, x.data(), batch, logits.data(), steps.data(), count, nullptr),
            MIXER_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(tanh_mixer_profile(model, x.data(), 0, logits.data(), steps.data(), count, &count),
            MIXER_ERROR_INVALID_ARGUMENT);
  ASSERT_EQ(tanh_mixer_profile(model, x.data(), batch, logits.data(), steps.data(), count, &count),
            MIXER_OK)
      << mixer_last_error();
  EXPECT_EQ(logits, infer(batch)); // profiling changes nothing in the results
  EXPECT_STREQ(steps.front().label, "stem.proj");
  EXPECT_STREQ(steps.back().label, "head");
  double flops = 0;
  for (const mixer_step_profile &s : steps) {
    EXPECT_GT(std::strlen(s.kernel), 0u);
    EXPECT_GE(s.seconds, 0.0);
    EXPECT_GT(s.bytes, 0.0);
    flops += s.flops;
  }
  // The GEMM steps account for every FLOP the model info reports.
  EXPECT_NEAR(flops, tanh_mixer_info()->flops_per_image * double(batch), 1e-6 * flops);
}

TEST_F(Api, BatchesAreIndependent) {
  // Each image's logits are the same whether it runs alone or in a batch of 1, 7 or 32.
  std::vector<float> batch32 = infer(32), batch7 = infer(7), single = infer(1);
  for (int64_t c = 0; c < kClasses; ++c) {
    EXPECT_NEAR(batch7[size_t(c)], single[size_t(c)], 1e-5f);
    EXPECT_NEAR(batch32[size_t(c)], single[size_t(c)], 1e-5f);
  }
  for (size_t i = 0; i < batch7.size(); ++i)
    EXPECT_NEAR(batch7[i], batch32[i], 1e-5f) << "at " << i;
  for (float v : batch32)
    EXPECT_TRUE(std::isfinite(v));
}

TEST_F(Api, RepeatedInferenceIsBitExact) {
  // Tiles that overlap must not race: the same input gives the same bits on every call.
  const std::vector<float> first = infer(7);
  for (int i = 0; i < 300; ++i)
    ASSERT_EQ(infer(7), first) << "call " << i;
}

TEST_F(Api, DistinctModelsOnDistinctThreads) {
  // The header promises that distinct models may run concurrently; each thread must get exactly
  // the logits a serial run gives.
  const std::vector<float> expected = infer(7);
  std::vector<std::thread> threads;
  std::atomic<int> mismatches{0};
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&] {
      tanh_mixer_model *mine = nullptr;
      if (tanh_mixer_create(nullptr, &mine) != MIXER_OK ||
          tanh_mixer_load_weights(mine, weights.c_str()) != MIXER_OK) {
        ++mismatches;
        return;
      }
      std::vector<float> x = images(7), logits(7 * kClasses);
      for (int i = 0; i < 50; ++i)
        if (tanh_mixer_infer(mine, x.data(), 7, logits.data()) != MIXER_OK || logits != expected)
          ++mismatches;
      tanh_mixer_destroy(mine);
    });
  for (std::thread &t : threads)
    t.join();
  EXPECT_EQ(mismatches.load(), 0);
}

TEST_F(Api, SaveLoadRoundTripIsBitExact) {
  std::string saved = tempPath("saved.safetensors"), again = tempPath("again.safetensors");
  ASSERT_EQ(tanh_mixer_save_weights(model, saved.c_str()), MIXER_OK) << mixer_last_error();
  tanh_mixer_model *copy = nullptr;
  ASSERT_EQ(tanh_mixer_create(nullptr, &copy), MIXER_OK);
  ASSERT_EQ(tanh_mixer_load_weights(copy, saved.c_str()), MIXER_OK) << mixer_last_error();
  ASSERT_EQ(tanh_mixer_save_weights(copy, again.c_str()), MIXER_OK);
  EXPECT_EQ(readFile(saved), readFile(again));
  std::vector<float> x = images(7), a(7 * kClasses), b(7 * kClasses);
  ASSERT_EQ(tanh_mixer_infer(model, x.data(), 7, a.data()), MIXER_OK);
  ASSERT_EQ(tanh_mixer_infer(copy, x.data(), 7, b.data()), MIXER_OK);
  EXPECT_EQ(std::memcmp(a.data(), b.data(), a.size() * sizeof(float)), 0);
  tanh_mixer_destroy(copy);
  EXPECT_EQ(tanh_mixer_save_weights(model, "/nonexistent/dir/w.safetensors"), MIXER_ERROR_IO);
  std::remove(saved.c_str());
  std::remove(again.c_str());
}

TEST_F(Api, RefusedWeightFilesKeepThePreviousWeights) {
  const std::vector<float> before = infer(2);
  struct Case {
    std::string what;
    std::vector<Tensor> tensors;
    size_t truncate;
    mixer_status status;
    std::string message;
  };
  std::vector<Tensor> missing = parameters(), extra = parameters(), misshaped = parameters(),
                      mistyped = parameters();
  missing.erase(missing.begin() + 5);
  extra.push_back({"blocks.1.norm1.weight", "F32", {20}});
  misshaped[6].shape = {15, 12};
  mistyped[3].dtype = "I32";
  std::vector<Case> cases = {
      {"missing", missing, 0, MIXER_ERROR_SHAPE, "missing tensor 'blocks.0.norm2.bias'"},
      {"extra", extra, 0, MIXER_ERROR_SHAPE, "unexpected tensor 'blocks.1.norm1.weight'"},
      {"misshaped", misshaped, 0, MIXER_ERROR_SHAPE,
       "tensor 'blocks.0.mlp_tokens.fc1.weight' has shape [15, 12], expected [12, 15]"},
      {"mistyped", mistyped, 0, MIXER_ERROR_SHAPE,
       "tensor 'blocks.0.norm1.bias' has dtype I32, expected F32 (or F16, BF16, F64)"},
      {"truncated", parameters(), 100, MIXER_ERROR_FORMAT, "outside the file (truncated?)"},
  };
  for (const Case &c : cases) {
    std::string path = tempPath(c.what);
    writeWeights(path, c.tensors, 11, c.truncate);
    EXPECT_EQ(tanh_mixer_load_weights(model, path.c_str()), c.status) << c.what;
    EXPECT_THAT(mixer_last_error(), HasSubstr(c.message)) << c.what;
    EXPECT_EQ(infer(2), before) << c.what << " changed the weights";
    std::remove(path.c_str());
  }
  std::string bad = tempPath("badheader");
  std::ofstream(bad, std::ios::binary) << std::string("\x05\0\0\0\0\0\0\0{oops", 13);
  EXPECT_EQ(tanh_mixer_load_weights(model, bad.c_str()), MIXER_ERROR_FORMAT);
  EXPECT_THAT(mixer_last_error(), HasSubstr("not a valid safetensors file"));
  EXPECT_EQ(infer(2), before);
  std::remove(bad.c_str());
  EXPECT_EQ(tanh_mixer_load_weights(model, "/nonexistent.safetensors"), MIXER_ERROR_IO);
}

} // namespace

TEST_F(Api, AbsurdSizesAreRefusedBeforeAllocation) {
  // A weight file larger than the machine's memory (sparse: no disk used) is refused by size
  // before it is read.
  const std::string huge = tempPath("huge.safetensors");
  const double physical = double(sysconf(_SC_PHYS_PAGES)) * double(sysconf(_SC_PAGESIZE));
  {
    std::ofstream(huge, std::ios::binary) << "x";
  }
  ASSERT_EQ(truncate(huge.c_str(), off_t(physical + 1e9)), 0);
  const std::vector<float> before = infer(2);
  EXPECT_EQ(tanh_mixer_load_weights(model, huge.c_str()), MIXER_ERROR_OUT_OF_MEMORY);
  EXPECT_THAT(mixer_last_error(), HasSubstr("reading the whole file needs"));
  EXPECT_THAT(mixer_last_error(), HasSubstr("GB this process can have"));
  std::remove(huge.c_str());
  EXPECT_EQ(infer(2), before);

  // Training activations beyond what the address-space limit leaves (ulimit -v) are refused by
  // size before any of them is allocated (inference runs in chunks and needs little); the model
  // still trains afterwards.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__) // GCC's; clang's below
  GTEST_SKIP() << "the address-space limit leaves no room for the sanitizer's shadow memory";
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
  GTEST_SKIP() << "the address-space limit leaves no room for the sanitizer's shadow memory";
#endif
#endif
  const int64_t batch = int64_t(1) << 16; // about 1 GB of training activations
  std::vector<float> x = images(batch);
  std::vector<int32_t> labels(size_t(batch), 1);
  struct rlimit saved;
  ASSERT_EQ(getrlimit(RLIMIT_AS, &saved), 0);
  long pages = 0;
  {
    std::ifstream statm("/proc/self/statm");
    statm >> pages;
  }
  struct rlimit tight = saved;
  tight.rlim_cur = rlim_t(pages) * rlim_t(sysconf(_SC_PAGESIZE)) + (rlim_t(128) << 20);
  ASSERT_EQ(setrlimit(RLIMIT_AS, &tight), 0);
  const mixer_status status =
      tanh_mixer_train_step(model, x.data(), labels.data(), batch, nullptr, nullptr);
  const std::string message = mixer_last_error();
  ASSERT_EQ(setrlimit(RLIMIT_AS, &saved), 0);
  EXPECT_EQ(status, MIXER_ERROR_OUT_OF_MEMORY);
  EXPECT_THAT(message, HasSubstr("tanh_mixer: the activations of a batch of 65536 needs"));
  EXPECT_EQ(infer(2), before);
  EXPECT_EQ(tanh_mixer_train_step(model, x.data(), labels.data(), 4, nullptr, nullptr), MIXER_OK)
      << mixer_last_error();
}

TEST_F(Api, TrainStepArgumentsAndOptions) {
  const int64_t batch = 4;
  std::vector<float> x = images(batch);
  std::vector<int32_t> labels = {0, 1, 2, 4};
  mixer_train_options o;
  mixer_train_options_init(&o);
  float loss = -1;
  const std::string before = tempPath("before.safetensors"), after = tempPath("after.safetensors");
  ASSERT_EQ(tanh_mixer_save_weights(model, before.c_str()), MIXER_OK);
  auto expectRefused = [&](mixer_status want, const std::string &message) {
    EXPECT_EQ(tanh_mixer_train_step(model, x.data(), labels.data(), batch, &o, &loss), want);
    EXPECT_THAT(mixer_last_error(), HasSubstr(message));
    mixer_train_options_init(&o);
  };
  EXPECT_EQ(tanh_mixer_train_step(nullptr, x.data(), labels.data(), batch, &o, &loss),
            MIXER_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(tanh_mixer_train_step(model, nullptr, labels.data(), batch, &o, &loss),
            MIXER_ERROR_INVALID_ARGUMENT);
  EXPECT_THAT(mixer_last_error(), HasSubstr("images is NULL"));
  EXPECT_EQ(tanh_mixer_train_step(model, x.data(), nullptr, batch, &o, &loss),
            MIXER_ERROR_INVALID_ARGUMENT);
  EXPECT_THAT(mixer_last_error(), HasSubstr("labels is NULL"));
  EXPECT_EQ(tanh_mixer_train_step(model, x.data(), labels.data(), 0, &o, &loss),
            MIXER_ERROR_INVALID_ARGUMENT);
  // The training step's limit is its own, from its own views: never above inference's (whose
  // buffers it shares), and within the runtime's cap of 2^24 images.
  auto limitIn = [](const std::string &message) {
    return std::stoll(message.substr(message.rfind("..") + 2));
  };
  const int64_t huge = int64_t(1) << 40;
  ASSERT_EQ(tanh_mixer_train_step(model, x.data(), labels.data(), huge, &o, &loss),
            MIXER_ERROR_INVALID_ARGUMENT);
  const int64_t trainLimit = limitIn(mixer_last_error());
  std::vector<float> logits(kClasses);
  ASSERT_EQ(tanh_mixer_infer(model, x.data(), huge, logits.data()), MIXER_ERROR_INVALID_ARGUMENT);
  EXPECT_LE(trainLimit, limitIn(mixer_last_error()));
  EXPECT_LE(trainLimit, int64_t(1) << 24);
  labels[1] = 5;
  expectRefused(MIXER_ERROR_INVALID_ARGUMENT, "labels[1] is 5 (must be in [0, 5))");
  labels[1] = -1;
  expectRefused(MIXER_ERROR_INVALID_ARGUMENT, "labels[1] is -1");
  labels[1] = 1;
  o.abi_version = 0;
  expectRefused(MIXER_ERROR_UNSUPPORTED, "initialise the options with mixer_train_options_init");
  o.learning_rate = -1e-3f;
  expectRefused(MIXER_ERROR_INVALID_ARGUMENT, "opts->learning_rate is -0.001");
  o.learning_rate = NAN;
  expectRefused(MIXER_ERROR_INVALID_ARGUMENT, "learning_rate is nan");
  o.weight_decay = -1;
  expectRefused(MIXER_ERROR_INVALID_ARGUMENT, "weight_decay is -1");
  o.label_smoothing = 1.0f;
  expectRefused(MIXER_ERROR_INVALID_ARGUMENT, "label_smoothing is 1 (must be in [0, 1))");
  o.beta2 = 1.0f;
  expectRefused(MIXER_ERROR_INVALID_ARGUMENT, "beta1 and beta2 are 0.9 and 1");
  o.eps = 0.0f;
  expectRefused(MIXER_ERROR_INVALID_ARGUMENT, "opts->eps is 0");
  o.optimizer = MIXER_OPTIMIZER_SGD;
  o.momentum = 2.0f;
  expectRefused(MIXER_ERROR_INVALID_ARGUMENT, "opts->momentum is 2");
  o.optimizer = static_cast<mixer_optimizer>(7);
  expectRefused(MIXER_ERROR_INVALID_ARGUMENT, "opts->optimizer is 7");
  // Refused calls changed nothing.
  ASSERT_EQ(tanh_mixer_save_weights(model, after.c_str()), MIXER_OK);
  EXPECT_EQ(readFile(before), readFile(after));

  // A step with NULL options (AdamW defaults) and no loss pointer; then SGD would drop its state.
  EXPECT_EQ(tanh_mixer_train_step(model, x.data(), labels.data(), batch, nullptr, nullptr),
            MIXER_OK)
      << mixer_last_error();
  o.optimizer = MIXER_OPTIMIZER_SGD;
  expectRefused(MIXER_ERROR_INVALID_ARGUMENT, "holds AdamW state from 1 steps");
  EXPECT_EQ(tanh_mixer_train_step(model, x.data(), labels.data(), batch, &o, &loss), MIXER_OK);
  EXPECT_TRUE(std::isfinite(loss) && loss > 0);
  std::remove(before.c_str());
  std::remove(after.c_str());
}

TEST_F(Api, OptimizerStateFiles) {
  // Moments without a step count are refused, not dropped.
  std::vector<Tensor> tensors = parameters();
  const std::string path = tempPath("state.safetensors"), saved = tempPath("saved.safetensors");
  ASSERT_EQ(tanh_mixer_save_weights(model, saved.c_str()), MIXER_OK);
  tensors.push_back({"optimizer.exp_avg.head.bias", "F32", {5}});
  writeWeights(path, tensors, 5);
  EXPECT_EQ(tanh_mixer_load_weights(model, path.c_str()), MIXER_ERROR_SHAPE);
  EXPECT_THAT(mixer_last_error(), HasSubstr("unexpected tensor 'optimizer.exp_avg.head.bias'"));
  tensors.pop_back();
  // A checkpoint that claims optimizer state must hold all of it, well-shaped.
  tensors.push_back({"optimizer.step", "I64", {}});
  writeWeights(path, tensors, 5);
  EXPECT_EQ(tanh_mixer_load_weights(model, path.c_str()), MIXER_ERROR_SHAPE);
  EXPECT_THAT(mixer_last_error(), HasSubstr("missing tensor 'optimizer.exp_avg.stem.proj.weight'"));
  for (const Tensor &t : parameters()) {
    tensors.push_back({"optimizer.exp_avg." + t.name, "F32", t.shape});
    tensors.push_back({"optimizer.exp_avg_sq." + t.name, "F32", t.shape});
  }
  tensors.back().shape = {3}; // exp_avg_sq of head.bias mis-shaped
  writeWeights(path, tensors, 5);
  EXPECT_EQ(tanh_mixer_load_weights(model, path.c_str()), MIXER_ERROR_SHAPE);
  EXPECT_THAT(mixer_last_error(),
              HasSubstr("tensor 'optimizer.exp_avg_sq.head.bias' has shape [3], expected [5]"));
  const std::string kept = tempPath("kept.safetensors");
  ASSERT_EQ(tanh_mixer_save_weights(model, kept.c_str()), MIXER_OK);
  EXPECT_EQ(readFile(kept), readFile(saved)); // the refused files changed nothing
  tensors.back().shape = {5};
  tensors.push_back({"optimizer.momentum_buffer.head.bias", "F32", {5}});
  writeWeights(path, tensors, 5);
  EXPECT_EQ(tanh_mixer_load_weights(model, path.c_str()), MIXER_ERROR_SHAPE);
  EXPECT_THAT(mixer_last_error(), HasSubstr("missing tensor 'optimizer.momentum_buffer.stem"));
  tensors.pop_back();
  writeWeights(path, tensors, 5); // complete AdamW state from step 3: accepted as such
  ASSERT_EQ(tanh_mixer_load_weights(model, path.c_str()), MIXER_OK) << mixer_last_error();
  std::vector<float> x = images(2);
  std::vector<int32_t> labels = {0, 3};
  mixer_train_options o;
  mixer_train_options_init(&o);
  o.optimizer = MIXER_OPTIMIZER_SGD;
  EXPECT_EQ(tanh_mixer_train_step(model, x.data(), labels.data(), 2, &o, nullptr),
            MIXER_ERROR_INVALID_ARGUMENT);
  EXPECT_THAT(mixer_last_error(), HasSubstr("holds AdamW state from 3 steps"));
  for (const std::string &p : {path, saved, kept})
    std::remove(p.c_str());
}
