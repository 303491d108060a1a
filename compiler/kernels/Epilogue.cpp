// See Epilogue.h. BatchNorm folds to y * scale + shift with scale = gamma / sqrt(var + eps) and
// shift = beta - mean * scale, the form PyTorch's CPU inference kernel uses too.
#include "kernels/Epilogue.h"

#include <cmath>

#include "kernels/Kernels.h"

using namespace Halide;

namespace mixerc {

Epilogue::Epilogue(const KernelSignature &sig, int64_t channels, std::vector<Argument> *arguments)
    : activation_(sig.activation), norm_(sig.norm) {
  if (!norm_)
    return;
  ImageParam gamma(Float(32), 1, "bn_gamma"), beta(Float(32), 1, "bn_beta"),
      mean(Float(32), 1, "bn_mean"), variance(Float(32), 1, "bn_variance");
  for (ImageParam *p : {&gamma, &beta, &mean, &variance}) {
    pinDim(*p, 0, channels, 1);
    arguments->push_back(*p);
  }
  scale_(c_) = gamma(c_) / sqrt(variance(c_) + float(sig.norm_epsilon));
  shift_(c_) = beta(c_) - mean(c_) * scale_(c_);
}

Expr activationValue(Activation activation, Expr v) {
  switch (activation) {
  case Activation::None:
    return v;
  case Activation::GeluErf:
    return 0.5f * v * (1.0f + erf(v * float(M_SQRT1_2)));
  case Activation::GeluTanh:
    return 0.5f * v * (1.0f + tanh(0.7978845608028654f * (v + 0.044715f * v * v * v)));
  case Activation::Relu:
    return max(v, 0.0f);
  }
  return v;
}

Expr activationDerivative(Activation activation, Expr x) {
  switch (activation) {
  case Activation::None:
    return 1.0f;
  case Activation::GeluErf: // Phi(x) + x phi(x)
    return 0.5f * (1.0f + erf(x * float(M_SQRT1_2))) +
           x * exp(-0.5f * x * x) * 0.3989422804014327f;
  case Activation::GeluTanh: {
    Expr t = tanh(0.7978845608028654f * (x + 0.044715f * x * x * x));
    return 0.5f * (1.0f + t) +
           0.5f * x * (1.0f - t * t) * 0.7978845608028654f * (1.0f + 3.0f * 0.044715f * x * x);
  }
  case Activation::Relu: // PyTorch's convention: 0 at 0
    return select(x > 0.0f, 1.0f, 0.0f);
  }
  return 1.0f;
}

namespace {
/// e^(-s/2) for s >= 0 (a square) to 4.3e-7 relative (Halide's exp: 3.2e-7) in 15 vector
/// operations: 2^k (k = round(-s/2 log2 e)) times a degree-6 polynomial in r = -s/2 - k ln 2
/// (Cody-Waite: ln 2 in two parts); beyond e^-87 the result stays at e^-87. No overflow, NaN or
/// infinity handling. k comes from the float addition of 1.5 x 2^23, which rounds to an integer
/// and leaves it in the low mantissa bits, from which 2^k's exponent field is shifted (Halide's
/// round() took 4 instructions per zmm vector on AVX-512, 2 ymm roundings and their shuffles).
Expr expHalfNegated(Expr s) {
  s = min(s, 174.0f);
  const float shifter = 12582912.0f; // 1.5 x 2^23
  Expr shifted = strict_float(s * float(-0.5 * M_LOG2E) + shifter);
  Expr k = strict_float(shifted - shifter);
  Expr y = s * -0.5f;
  Expr r = y - k * 0.693145751953125f - k * 1.428606765330187e-06f;
  Expr p = 1.0f / 720.0f;
  for (float c : {1.0f / 120.0f, 1.0f / 24.0f, 1.0f / 6.0f, 0.5f, 1.0f, 1.0f})
    p = p * r + c;
  // (shifted's bits) << 23 is k << 23: the shifter's own bits shift out of the word.
  Expr twoToK = reinterpret(Float(32), (reinterpret(Int(32), shifted) << 23) + (127 << 23));
  return p * twoToK;
}
} // namespace

std::pair<Expr, Expr> activationWithDerivative(Activation activation, Expr x) {
  if (activation != Activation::GeluErf)
    return {activationValue(activation, x), activationDerivative(activation, x)};
  // Phi(x) = (1 + erf(x / sqrt2)) / 2 by Abramowitz & Stegun 7.1.26 (|error| <= 1.5e-7), whose
  // exp(-z^2) is exp(-x^2 / 2), the derivative's phi(x) up to a constant: one exp serves both,
  // where Halide's erf and a separate exp cost 55 cycles per vector on Zen 4. The constants are
  // folded (z's 1 / sqrt2 into p, the halving into the coefficients), about 30 vector operations.
  // q = (1 - erf(|z|)) / 2 is Phi(x) for x < 0 and 1 - Phi(x) otherwise, computed without
  // cancellation in the tail.
  Expr t = 1.0f / (abs(x) * float(0.3275911 * M_SQRT1_2) + 1.0f);
  Expr halfPoly =
      t * (0.127414796f +
           t * (-0.142248368f + t * (0.7107068705f + t * (-0.7265760135f + t * 0.5307027145f))));
  Expr gauss = expHalfNegated(x * x);
  Expr q = halfPoly * gauss;
  Expr phi = select(x >= 0.0f, 1.0f - q, q);
  return {x * phi, (x * 0.3989422804014327f) * gauss + phi};
}

Expr Epilogue::apply(Expr v, Expr channel) const {
  return normalize(activationValue(activation_, v), channel);
}

Expr Epilogue::normalize(Expr activated, Expr channel) const {
  if (norm_)
    return activated * scale_(channel) + shift_(channel);
  return activated;
}

void Epilogue::schedule(const Target &target) {
  if (!norm_)
    return;
  const int lanes = target.natural_vector_size<float>();
  scale_.compute_root().vectorize(c_, lanes, TailStrategy::GuardWithIf);
  shift_.compute_root().vectorize(c_, lanes, TailStrategy::GuardWithIf);
}

} // namespace mixerc
