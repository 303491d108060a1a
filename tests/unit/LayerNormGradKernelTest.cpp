// The layer-norm parameter-gradient kernels, JIT-compiled for the host and checked against a
// double-precision reference: the standalone kernel (which no shipped spec reaches, since fusion
// folds it into the layer-norm gradient) and the fused gradient's two extra outputs. Widths with
// and without a vector tail, row counts that do not fill the last block of rows.
#include <cmath>
#include <random>
#include <vector>

#include <Halide.h>
#include <gtest/gtest.h>

#include "KernelJit.h"

namespace mixerc {
namespace {

constexpr double kEpsilon = 1e-6;

struct Case {
  int width, rows;
  std::vector<float> input, grad, gamma;
  std::vector<double> dgamma, dbeta; ///< the reference
};

Case makeCase(int width, int rows) {
  Case c{width, rows, {}, {}, {}, std::vector<double>(width), std::vector<double>(width)};
  std::mt19937 rng(width * 1000 + rows);
  std::normal_distribution<float> normal(0.5f, 2.0f);
  for (int i = 0; i < width * rows; ++i) {
    c.input.push_back(normal(rng));
    c.grad.push_back(normal(rng));
  }
  for (int i = 0; i < width; ++i)
    c.gamma.push_back(normal(rng));
  for (int r = 0; r < rows; ++r) {
    const float *x = &c.input[size_t(r) * width];
    double mean = 0, var = 0;
    for (int i = 0; i < width; ++i)
      mean += x[i] / width;
    for (int i = 0; i < width; ++i)
      var += (x[i] - mean) * (x[i] - mean) / width;
    const double rstd = 1.0 / std::sqrt(var + kEpsilon);
    for (int i = 0; i < width; ++i) {
      const double dy = c.grad[size_t(r) * width + i];
      c.dgamma[i] += dy * (x[i] - mean) * rstd;
      c.dbeta[i] += dy;
    }
  }
  return c;
}

KernelSignature signature(KernelOp op, int width) {
  KernelSignature sig;
  sig.op = op;
  sig.n = width;
  sig.epsilon = kEpsilon;
  sig.param_grads = op == KernelOp::LayerNormGrad;
  return sig;
}

void expectNear(const Halide::Buffer<float> &got, const std::vector<double> &want,
                const char *what) {
  for (size_t i = 0; i < want.size(); ++i)
    EXPECT_NEAR(got(int(i)), want[i], 1e-4 * (1.0 + std::abs(want[i]))) << what << "[" << i << "]";
}

class LayerNormParamGrads : public ::testing::TestWithParam<std::pair<int, int>> {};

TEST_P(LayerNormParamGrads, StandaloneKernelMatchesReference) {
  const auto [width, rows] = GetParam();
  Case c = makeCase(width, rows);
  Halide::Callable run = jitForHost(signature(KernelOp::LayerNormParamGrad, width));
  Halide::Buffer<float> input(c.input.data(), width, rows), grad(c.grad.data(), width, rows);
  Halide::Buffer<float> dgamma(width), dbeta(width);
  ASSERT_EQ(run(input, grad, dgamma, dbeta), 0);
  expectNear(dgamma, c.dgamma, "dgamma");
  expectNear(dbeta, c.dbeta, "dbeta");
}

TEST_P(LayerNormParamGrads, FusedGradientKernelMatchesReference) {
  const auto [width, rows] = GetParam();
  Case c = makeCase(width, rows);
  Halide::Callable run = jitForHost(signature(KernelOp::LayerNormGrad, width));
  Halide::Buffer<float> input(c.input.data(), width, rows), grad(c.grad.data(), width, rows);
  Halide::Buffer<float> gamma(c.gamma.data(), width);
  Halide::Buffer<float> dx(width, rows), dgamma(width), dbeta(width);
  ASSERT_EQ(run(input, gamma, grad, dx, dgamma, dbeta), 0);
  expectNear(dgamma, c.dgamma, "dgamma");
  expectNear(dbeta, c.dbeta, "dbeta");
}

INSTANTIATE_TEST_SUITE_P(Shapes, LayerNormParamGrads,
                         ::testing::Values(std::pair{32, 150}, std::pair{24, 64},
                                           std::pair{128, 6}));

} // namespace
} // namespace mixerc
