// The record spaces of the tuner (tuning/SearchSpace.h), kernel by kernel: every record drawn
// from a family's space builds and computes what the default schedule computes, on small odd
// shapes where tails and partial tasks are exercised, and the default itself matches a plain
// reference. (The e2e tune test draws records too, but only those its budget reaches.)
#include <cmath>
#include <random>

#include <Halide.h>
#include <gtest/gtest.h>

#include "DepthwiseSignature.h"
#include "kernels/Kernels.h"
#include "tuning/SearchSpace.h"

namespace mixerc {
namespace {

/// With the epilogue and residual a ConvMixer block fuses (ReLU, no BatchNorm).
KernelSignature depthwise(int64_t channels, int64_t height, int64_t width, int64_t k) {
  KernelSignature sig = depthwiseSignature(channels, height, width, k);
  sig.activation = Activation::Relu;
  sig.residual = true;
  return sig;
}

Halide::Buffer<float> random(std::vector<int> shape, uint64_t seed) {
  Halide::Buffer<float> b(shape);
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
  b.for_each_value([&](float &v) { v = uniform(rng); });
  return b;
}

/// The depthwise kernel of `sig` under `record` ("" for the default) on a batch of `batch`.
Halide::Buffer<float> runDepthwise(const KernelSignature &sig, const std::string &record,
                                   int batch) {
  const int c = int(sig.n), w = int(sig.image_width), h = int(sig.image_height);
  const int taps = int(sig.kernel_size * sig.kernel_size);
  const Halide::Target host = Halide::get_host_target();
  BuiltKernel kernel = buildKernel(sig, host, record);
  Halide::Callable callable = kernel.pipeline.compile_to_callable(kernel.arguments, host);
  Halide::Buffer<float> input = random({c, w, h, batch}, 1), weights = random({c, taps, 1}, 2);
  Halide::Buffer<float> bias = random({c}, 3), residual = random({c, w, h, batch}, 4);
  Halide::Buffer<float> out(c, w, h, batch);
  EXPECT_EQ(callable(input, weights, bias, residual, out), 0) << record;
  return out;
}

double worstDifference(const Halide::Buffer<float> &a, const Halide::Buffer<float> &b) {
  double worst = 0;
  a.for_each_element([&](const int *at) {
    const double d = std::fabs(double(a(at)) - double(b(at)));
    worst = std::isnan(d) ? INFINITY : std::max(worst, d);
  });
  return worst;
}

/// The largest difference of the default schedule's output from a plain convolution.
double defaultAgainstPlainConvolution(int c, int h, int w, int k) {
  const KernelSignature sig = depthwise(c, h, w, k);
  const int pad = (k - 1) / 2, batch = 2;
  Halide::Buffer<float> got = runDepthwise(sig, "", batch);
  Halide::Buffer<float> input = random({c, w, h, batch}, 1), weights = random({c, k * k, 1}, 2);
  Halide::Buffer<float> bias = random({c}, 3), residual = random({c, w, h, batch}, 4);
  double worst = 0;
  for (int b = 0; b < batch; ++b)
    for (int y = 0; y < h; ++y)
      for (int x = 0; x < w; ++x)
        for (int ch = 0; ch < c; ++ch) {
          double sum = bias(ch);
          for (int dy = 0; dy < k; ++dy)
            for (int dx = 0; dx < k; ++dx) {
              const int sx = x + dx - pad, sy = y + dy - pad;
              if (sx >= 0 && sx < w && sy >= 0 && sy < h)
                sum += double(input(ch, sx, sy, b)) * weights(ch, dx + dy * k, 0);
            }
          const double want = std::max(sum, 0.0) + residual(ch, x, y, b);
          worst = std::max(worst, std::fabs(want - got(ch, x, y, b)));
        }
  return worst;
}

// 40 channels (2.5 AVX-512 vectors), a 7 x 9 grid (no pixel tile but 1, 3 and 9 divides it) and
// a 5 x 5 kernel: tails in every tiled dimension. 96 channels: more than one channel block (the
// default's blocks of 64 read the taps past their end there until blocks had to divide them).
TEST(DepthwiseRecords, DefaultMatchesAPlainConvolution) {
  EXPECT_LT(defaultAgainstPlainConvolution(40, 7, 9, 5), 1e-5);
  EXPECT_LT(defaultAgainstPlainConvolution(96, 6, 8, 3), 1e-5);
}

TEST(DepthwiseRecords, EveryDrawnRecordMatchesTheDefault) {
  // 40 channels: one block, tiles shifted inwards; 96: several blocks of whole tiles.
  for (const KernelSignature &sig : {depthwise(40, 7, 9, 5), depthwise(96, 6, 8, 3)}) {
    const VectorMachine machine = vectorMachine(Halide::get_host_target());
    const std::vector<std::string> records = depthwiseCandidates(sig, machine, /*seed=*/3);
    ASSERT_GT(records.size(), 20u);
    const std::string base = defaultScheduleRecord(sig, machine);
    // Every record is valid and differs from the default; a spread of them (the space is
    // shuffled) builds and computes the same result.
    for (const std::string &record : records) {
      std::string error;
      EXPECT_NE(record, base);
      EXPECT_TRUE(checkScheduleRecord(sig, Halide::get_host_target(), record, &error)) << error;
    }
    Halide::Buffer<float> want = runDepthwise(sig, "", 2);
    for (size_t i = 0; i < records.size() && i < 12; ++i) {
      try {
        Halide::Buffer<float> got = runDepthwise(sig, records[i], 2);
        EXPECT_LT(worstDifference(want, got), 1e-5) << records[i];
      } catch (const Halide::Error &e) {
        ADD_FAILURE() << records[i] << ": " << e.what();
      }
    }
  }
}

TEST(DepthwiseRecords, ARecordChangesTheSchedule) {
  // Not the default's code under another name: a one-pixel, one-row tiling of the same kernel
  // lowers to a different loop nest.
  const KernelSignature sig = depthwise(40, 7, 9, 5);
  const Halide::Target host = Halide::get_host_target();
  DepthwiseSchedule s = defaultDepthwiseSchedule(sig, vectorMachine(host));
  s.pixels = 1;
  s.rows = 1;
  BuiltKernel a = buildKernel(sig, host, ""), b = buildKernel(sig, host, s.str());
  const auto &splitsA = a.pipeline.outputs()[0].function().definition().schedule().splits();
  const auto &splitsB = b.pipeline.outputs()[0].function().definition().schedule().splits();
  ASSERT_EQ(splitsA.size(), splitsB.size());
  bool differs = false;
  for (size_t i = 0; i < splitsA.size(); ++i)
    differs |= !Halide::Internal::equal(splitsA[i].factor, splitsB[i].factor);
  EXPECT_TRUE(differs);
}

TEST(DepthwiseRecords, ABadRecordIsRefusedByName) {
  const KernelSignature sig = depthwise(40, 7, 9, 5);
  const Halide::Target host = Halide::get_host_target();
  std::string error;
  EXPECT_FALSE(checkScheduleRecord(sig, host, "vector=16 vectors=2 pixels=40 channel_block=40 "
                                              "rows=7", &error));
  EXPECT_NE(error.find("depthwise schedule"), std::string::npos) << error;
  EXPECT_FALSE(checkScheduleRecord(sig, host, "panel=64", &error));
  EXPECT_NE(error.find("unknown item 'panel=64'"), std::string::npos) << error;
  EXPECT_THROW(buildKernel(sig, host, "vector=16 vectors=9 pixels=1 channel_block=40 rows=7"),
               Halide::CompileError);
}

} // namespace
} // namespace mixerc
