// The channel and patch-embedding weight gradients, JIT-compiled for the host and checked against
// a double-precision reference. The shipped test models all take the row-split schedule (small
// results); large results (over 512 KiB) take the output-block schedule over tile-major copies of
// both operands, which only the paper-sized models reach. Shapes cover both, with a ragged last
// register tile (n not a multiple of the tile's rows), a ragged last column panel (k not a
// multiple of the panel), row counts that do not fill the last chunk, and fewer rows than a tile.
// Token bias gradients (row sums over a batch of images) are checked the same way.
#include <cmath>
#include <ostream>
#include <random>
#include <vector>

#include <Halide.h>
#include <gtest/gtest.h>

#include "KernelJit.h"

namespace mixerc {
namespace {

std::vector<float> normals(size_t count, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> values(count);
  for (float &v : values)
    v = normal(rng);
  return values;
}

/// dW(k, n) = sum_r X(k, r) D(n, r) in double, against the kernel's result laid out k-fastest.
void expectWeightGrad(const Halide::Buffer<float> &got, int n, int k, int rows,
                      const std::vector<float> &x, const std::vector<float> &d) {
  int mismatches = 0;
  for (int j = 0; j < n; ++j)
    for (int i = 0; i < k; ++i) {
      double want = 0, scale = 0;
      for (int r = 0; r < rows; ++r) {
        want += double(x[size_t(r) * k + i]) * d[size_t(r) * n + j];
        scale += std::abs(double(x[size_t(r) * k + i]) * d[size_t(r) * n + j]);
      }
      if (std::abs(got(i, j) - want) > 1e-5 * (1.0 + scale) && mismatches++ < 5)
        ADD_FAILURE() << "dW(k=" << i << ", n=" << j << ") = " << got(i, j) << ", want " << want;
    }
  EXPECT_EQ(mismatches, 0);
}

struct Shape {
  int n, k, rows;
};
void PrintTo(const Shape &s, std::ostream *os) {
  *os << "n=" << s.n << " k=" << s.k << " rows=" << s.rows;
}

class ChannelWeightGrad : public ::testing::TestWithParam<Shape> {};

TEST_P(ChannelWeightGrad, MatchesReference) {
  const auto [n, k, rows] = GetParam();
  KernelSignature sig;
  sig.op = KernelOp::WeightGradChannels;
  sig.n = n;
  sig.k = k;
  Halide::Callable run = jitForHost(sig);
  std::vector<float> x = normals(size_t(k) * rows, 1), d = normals(size_t(n) * rows, 2);
  Halide::Buffer<float> input(x.data(), k, rows), grad(d.data(), n, rows), dw(k, n);
  ASSERT_EQ(run(input, grad, dw), 0);
  expectWeightGrad(dw, n, k, rows, x, d);
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, ChannelWeightGrad,
    ::testing::Values(Shape{72, 40, 150},    // row splits, ragged panel and tile
                      Shape{1000, 200, 300}, // output blocks: ragged tile, panel and chunk
                      Shape{1000, 512, 8},   // output blocks, fewer rows than a chunk's split
                      Shape{384, 512, 257},  // output blocks, whole tiles and panels
                      Shape{200, 700, 2100}), // output blocks over three chunks of rows
    [](const auto &info) {
      return "n" + std::to_string(info.param.n) + "_k" + std::to_string(info.param.k) + "_rows" +
             std::to_string(info.param.rows);
    });

TEST(PatchWeightGrad, LargeResultMatchesReference) {
  // 3 x 32 x 48 images, patch 16: 6 patches per image of k = 768 features; n = 200 outputs make
  // a 600 KiB result, the output-block schedule; 190 images, 1140 rows, two chunks of rows.
  const int channels = 3, height = 32, width = 48, patch = 16, images = 190, n = 200;
  const int k = channels * patch * patch, perImage = (height / patch) * (width / patch);
  const int rows = images * perImage;
  KernelSignature sig;
  sig.op = KernelOp::WeightGradPatches;
  sig.n = n;
  sig.k = k;
  sig.image_channels = channels;
  sig.image_height = height;
  sig.image_width = width;
  sig.patch = patch;
  Halide::Callable run = jitForHost(sig);
  std::vector<float> pixels = normals(size_t(width) * height * channels * images, 3);
  std::vector<float> d = normals(size_t(n) * rows, 4);
  // The reference's X: row r = patch s of image b, feature (channel, y, x) as in the conv weight.
  std::vector<float> x(size_t(k) * rows);
  for (int r = 0; r < rows; ++r) {
    const int b = r / perImage, s = r % perImage;
    const int py = s / (width / patch), px = s % (width / patch);
    for (int f = 0; f < k; ++f) {
      const int c = f / (patch * patch), ky = (f / patch) % patch, kx = f % patch;
      x[size_t(r) * k + f] = pixels[((size_t(b) * channels + c) * height + py * patch + ky) * width +
                                    px * patch + kx];
    }
  }
  Halide::Buffer<float> image(pixels.data(), width, height, channels, images);
  Halide::Buffer<float> grad(d.data(), n, rows), dw(k, n);
  ASSERT_EQ(run(image, grad, dw), 0);
  expectWeightGrad(dw, n, k, rows, x, d);
}

class TokenBiasGrad : public ::testing::TestWithParam<std::pair<int, int>> {};

// db(m) = sum over images b and channels c of D(c, m, b): lanes over the channels (ragged where c
// is not a multiple of the vector), blocks of 8 images (ragged past 8), rows in two halves (odd m).
TEST_P(TokenBiasGrad, MatchesReference) {
  const auto [channels, images] = GetParam();
  const int tokens = 49;
  KernelSignature sig;
  sig.op = KernelOp::BiasGradTokens;
  sig.n = channels;
  sig.m = tokens;
  Halide::Callable run = jitForHost(sig);
  std::vector<float> d = normals(size_t(channels) * tokens * images, 5);
  Halide::Buffer<float> grad(d.data(), channels, tokens, images), db(tokens);
  ASSERT_EQ(run(grad, db), 0);
  for (int t = 0; t < tokens; ++t) {
    double want = 0, scale = 0;
    for (int b = 0; b < images; ++b)
      for (int c = 0; c < channels; ++c) {
        want += d[(size_t(b) * tokens + t) * channels + c];
        scale += std::abs(d[(size_t(b) * tokens + t) * channels + c]);
      }
    EXPECT_NEAR(db(t), want, 1e-6 * (1.0 + scale)) << "token " << t;
  }
}

INSTANTIATE_TEST_SUITE_P(Shapes, TokenBiasGrad,
                         ::testing::Values(std::pair{40, 19}, std::pair{128, 8},
                                           std::pair{512, 1}),
                         [](const auto &info) {
                           return "c" + std::to_string(info.param.first) + "_images" +
                                  std::to_string(info.param.second);
                         });

} // namespace
} // namespace mixerc
