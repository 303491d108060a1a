// GELU (erf form) and its derivative as the training forward GEMM computes them together
// (activationWithDerivative: Abramowitz & Stegun's erf sharing one hand-written exp with the
// derivative), JIT-compiled for the host and vectorized as in the kernels, against double
// precision over the range that matters and far beyond it, where both must saturate.
#include <cmath>

#include <Halide.h>
#include <gtest/gtest.h>

#include "kernels/Epilogue.h"

namespace mixerc {
namespace {

TEST(GeluWithDerivative, MatchesDoublePrecisionEverywhere) {
  // x from -40 to 40 in steps of 1/4096 (327,681 points), plus +-1e30. (The shared exp floors at
  // e^-87, so past |x| ~ 1e36 the slope's x phi(x) term would no longer vanish.)
  constexpr int kPoints = 80 * 4096 + 1;
  Halide::Buffer<float> xs(kPoints + 2);
  for (int i = 0; i < kPoints; ++i)
    xs(i) = -40.0f + float(i) / 4096.0f;
  xs(kPoints) = -1.0e30f;
  xs(kPoints + 1) = 1.0e30f;
  Halide::Var i("i");
  auto [value, derivative] = activationWithDerivative(Activation::GeluErf, xs(i));
  Halide::Func f("gelu");
  f(i) = Halide::Tuple(value, derivative);
  f.vectorize(i, 16, Halide::TailStrategy::GuardWithIf);
  Halide::Realization r = f.realize({kPoints + 2}, Halide::get_host_target());
  Halide::Buffer<float> got(r[0]), slope(r[1]);
  double worstValue = 0, worstSlope = 0;
  for (int j = 0; j < kPoints + 2; ++j) {
    const double x = xs(j);
    const double phi = 0.5 * std::erfc(-x * M_SQRT1_2);
    const double density = std::exp(-0.5 * x * x) / std::sqrt(2 * M_PI);
    const double wantValue = x * phi, wantSlope = phi + x * density;
    // Absolute error relative to max(1, |x|): the value grows like x, the slope is in [-0.17, 1.13].
    worstValue = std::max(worstValue, std::abs(got(j) - wantValue) / std::max(1.0, std::abs(x)));
    worstSlope = std::max(worstSlope, std::abs(slope(j) - wantSlope));
    ASSERT_TRUE(std::isfinite(got(j)) && std::isfinite(slope(j))) << "x = " << x;
  }
  EXPECT_LT(worstValue, 5e-7);
  EXPECT_LT(worstSlope, 5e-7);
  RecordProperty("worst_value_error", std::to_string(worstValue));
  RecordProperty("worst_slope_error", std::to_string(worstSlope));
  std::printf("worst value error %.3g, worst slope error %.3g\n", worstValue, worstSlope);
}

} // namespace
} // namespace mixerc
