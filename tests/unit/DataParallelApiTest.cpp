// The data-parallel half of tanh_mixer's generated C API: NAME_compute_gradients followed by
// NAME_apply_gradients is NAME_train_step bit for bit; the gradient of a batch is the
// share-weighted sum of its halves' gradients (what an all-reduce over two ranks computes);
// apply without a pending computation is refused; NAME_export_state / NAME_import_state carry
// the whole training state, and a foreign or truncated state is refused without a change.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <vector>

#include "ApiTestSupport.h"
#include "tanh_mixer.h"

using ::testing::HasSubstr;

namespace {

class DataParallel : public ::testing::Test {
protected:
  void SetUp() override {
    for (tanh_mixer_model **m : {&a, &b})
      ASSERT_EQ(tanh_mixer_create(nullptr, m), MIXER_OK) << mixer_last_error();
    mixer_train_options_init(&o);
  }
  void TearDown() override {
    tanh_mixer_destroy(a);
    tanh_mixer_destroy(b);
  }
  /// The bytes of a model's checkpoint (weights and optimizer state).
  std::string saved(const tanh_mixer_model *m) {
    const std::string path = tempPath("dp.safetensors");
    EXPECT_EQ(tanh_mixer_save_weights(m, path.c_str()), MIXER_OK) << mixer_last_error();
    std::string bytes = readFile(path);
    std::remove(path.c_str());
    return bytes;
  }
  std::vector<float> gradients(tanh_mixer_model *m) {
    float *data = nullptr;
    int64_t count = 0;
    EXPECT_EQ(tanh_mixer_gradients(m, &data, &count), MIXER_OK) << mixer_last_error();
    return std::vector<float>(data, data + count);
  }

  tanh_mixer_model *a = nullptr, *b = nullptr;
  mixer_train_options o;
  std::vector<float> x = images(4);
  std::vector<int32_t> labels = {0, 1, 2, 4};
};

TEST_F(DataParallel, ComputeThenApplyIsTheTrainStep) {
  for (int step = 0; step < 3; ++step) {
    float lossA = 0, lossB = 0;
    ASSERT_EQ(tanh_mixer_train_step(a, x.data(), labels.data(), 4, &o, &lossA), MIXER_OK)
        << mixer_last_error();
    ASSERT_EQ(tanh_mixer_compute_gradients(b, x.data(), labels.data(), 4, &o, &lossB), MIXER_OK)
        << mixer_last_error();
    ASSERT_EQ(tanh_mixer_apply_gradients(b, &o), MIXER_OK) << mixer_last_error();
    EXPECT_EQ(lossA, lossB);
  }
  EXPECT_EQ(saved(a), saved(b));
}

TEST_F(DataParallel, HalvesWeightedByTheirSharesGiveTheBatchGradient) {
  float whole = 0, first = 0, second = 0;
  ASSERT_EQ(tanh_mixer_compute_gradients(a, x.data(), labels.data(), 4, &o, &whole), MIXER_OK);
  const std::vector<float> g = gradients(a);
  ASSERT_EQ(tanh_mixer_compute_gradients(b, x.data(), labels.data(), 2, &o, &first), MIXER_OK);
  const std::vector<float> g1 = gradients(b);
  ASSERT_EQ(tanh_mixer_compute_gradients(b, x.data() + 2 * kImage, labels.data() + 2, 2, &o,
                                         &second),
            MIXER_OK);
  const std::vector<float> g2 = gradients(b);
  ASSERT_EQ(g.size(), g1.size());
  float scale = 0, worst = 0;
  size_t at = 0;
  for (float v : g)
    scale = std::max(scale, std::fabs(v));
  for (size_t i = 0; i < g.size(); ++i) {
    const float error = std::fabs(0.5f * (g1[i] + g2[i]) - g[i]);
    if (error > worst) {
      worst = error;
      at = i;
    }
  }
  ASSERT_GT(scale, 0.0f);
  // Tolerance: f32 sums over 2 vs 4 images in another order, relative to the largest gradient.
  EXPECT_LE(worst, 1e-5f * scale) << "first mismatch at gradient " << at << ": " << g[at]
                                  << " vs " << 0.5f * (g1[at] + g2[at]);
  EXPECT_NEAR(whole, 0.5f * (first + second), 1e-6f * std::fabs(whole));
  float *stats = nullptr;
  int64_t count = -1;
  ASSERT_EQ(tanh_mixer_running_stats(a, &stats, &count), MIXER_OK);
  EXPECT_EQ(count, 0); // no BatchNorm in an MLP-Mixer
}

TEST_F(DataParallel, ApplyNeedsOnePendingComputation) {
  EXPECT_EQ(tanh_mixer_apply_gradients(a, &o), MIXER_ERROR_INVALID_ARGUMENT);
  EXPECT_THAT(mixer_last_error(), HasSubstr("no gradients to apply"));
  ASSERT_EQ(tanh_mixer_compute_gradients(a, x.data(), labels.data(), 4, &o, nullptr), MIXER_OK);
  ASSERT_EQ(tanh_mixer_apply_gradients(a, &o), MIXER_OK);
  EXPECT_EQ(tanh_mixer_apply_gradients(a, &o), MIXER_ERROR_INVALID_ARGUMENT); // applied once
  ASSERT_EQ(tanh_mixer_compute_gradients(a, x.data(), labels.data(), 4, &o, nullptr), MIXER_OK);
  const std::string path = tempPath("pending.safetensors");
  ASSERT_EQ(tanh_mixer_save_weights(b, path.c_str()), MIXER_OK);
  ASSERT_EQ(tanh_mixer_load_weights(a, path.c_str()), MIXER_OK); // new weights drop the gradients
  EXPECT_EQ(tanh_mixer_apply_gradients(a, &o), MIXER_ERROR_INVALID_ARGUMENT);
  std::remove(path.c_str());

  // Arguments and options are checked as the train step checks them.
  float *data = nullptr;
  int64_t count = 0;
  EXPECT_EQ(tanh_mixer_gradients(nullptr, &data, &count), MIXER_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(tanh_mixer_gradients(a, nullptr, &count), MIXER_ERROR_INVALID_ARGUMENT);
  EXPECT_THAT(mixer_last_error(), HasSubstr("tanh_mixer_gradients: out_data is NULL"));
  EXPECT_EQ(tanh_mixer_running_stats(a, &data, nullptr), MIXER_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(tanh_mixer_compute_gradients(a, x.data(), labels.data(), 0, &o, nullptr),
            MIXER_ERROR_INVALID_ARGUMENT);
  EXPECT_THAT(mixer_last_error(), HasSubstr("tanh_mixer_compute_gradients: batch is 0"));
  o.learning_rate = -1.0f;
  ASSERT_EQ(tanh_mixer_compute_gradients(a, x.data(), labels.data(), 4, nullptr, nullptr),
            MIXER_OK);
  EXPECT_EQ(tanh_mixer_apply_gradients(a, &o), MIXER_ERROR_INVALID_ARGUMENT);
  EXPECT_THAT(mixer_last_error(), HasSubstr("tanh_mixer_apply_gradients: opts->learning_rate"));
  EXPECT_EQ(tanh_mixer_apply_gradients(nullptr, nullptr), MIXER_ERROR_INVALID_ARGUMENT);
}

TEST_F(DataParallel, ExportedStateContinuesExactly) {
  for (int step = 0; step < 2; ++step)
    ASSERT_EQ(tanh_mixer_train_step(a, x.data(), labels.data(), 4, &o, nullptr), MIXER_OK);
  int64_t bytes = 0;
  ASSERT_EQ(tanh_mixer_export_state(a, nullptr, 0, &bytes), MIXER_OK);
  std::vector<char> state(static_cast<size_t>(bytes));
  EXPECT_EQ(tanh_mixer_export_state(a, state.data(), bytes - 1, &bytes),
            MIXER_ERROR_INVALID_ARGUMENT);
  ASSERT_EQ(tanh_mixer_export_state(a, state.data(), bytes, &bytes), MIXER_OK);

  // Refused states leave the model as it was.
  const std::string before = saved(b);
  EXPECT_EQ(tanh_mixer_import_state(b, state.data(), bytes - 4), MIXER_ERROR_FORMAT);
  EXPECT_THAT(mixer_last_error(), HasSubstr("expected"));
  std::vector<char> foreign = state;
  foreign[16] ^= 1; // the plan hash
  EXPECT_EQ(tanh_mixer_import_state(b, foreign.data(), bytes), MIXER_ERROR_UNSUPPORTED);
  EXPECT_THAT(mixer_last_error(), HasSubstr("another build"));
  foreign = state;
  foreign[0] = 'X';
  EXPECT_EQ(tanh_mixer_import_state(b, foreign.data(), bytes), MIXER_ERROR_FORMAT);
  EXPECT_EQ(tanh_mixer_import_state(b, nullptr, bytes), MIXER_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(saved(b), before);

  ASSERT_EQ(tanh_mixer_import_state(b, state.data(), bytes), MIXER_OK) << mixer_last_error();
  EXPECT_EQ(saved(a), saved(b));
  float lossA = 0, lossB = 0;
  ASSERT_EQ(tanh_mixer_train_step(a, x.data(), labels.data(), 4, &o, &lossA), MIXER_OK);
  ASSERT_EQ(tanh_mixer_train_step(b, x.data(), labels.data(), 4, &o, &lossB), MIXER_OK);
  EXPECT_EQ(lossA, lossB);
  EXPECT_EQ(saved(a), saved(b));
  EXPECT_NE(tanh_mixer_info()->plan_hash, 0u);
}

} // namespace
