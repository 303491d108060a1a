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

Expr Epilogue::apply(Expr v, Expr channel) const {
  v = activationValue(activation_, v);
  if (norm_)
    v = v * scale_(channel) + shift_(channel);
  return v;
}

void Epilogue::schedule(const Target &target) {
  if (!norm_)
    return;
  const int lanes = target.natural_vector_size<float>();
  scale_.compute_root().vectorize(c_, lanes, TailStrategy::GuardWithIf);
  shift_.compute_root().vectorize(c_, lanes, TailStrategy::GuardWithIf);
}

} // namespace mixerc
