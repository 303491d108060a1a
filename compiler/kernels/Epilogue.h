// The fused epilogue shared by the GEMM and depthwise kernel families: after the linear part and
// its bias, the activation, then an inference BatchNorm over the output channels. The caller adds
// the residual, whose buffer layout is its own.
#ifndef MIXERC_KERNELS_EPILOGUE_H
#define MIXERC_KERNELS_EPILOGUE_H

#include <utility>
#include <vector>

#include <Halide.h>

#include "lower/KernelPlan.h"

namespace mixerc {

/// act(x) and act'(x) for the activations the kernels apply (GELU erf/tanh, ReLU).
Halide::Expr activationValue(Activation activation, Halide::Expr x);
Halide::Expr activationDerivative(Activation activation, Halide::Expr x);
/// Both at once, sharing their transcendental part (a training forward pass saves both).
std::pair<Halide::Expr, Halide::Expr> activationWithDerivative(Activation activation,
                                                               Halide::Expr x);

class Epilogue {
public:
  /// Declares the BatchNorm vectors (gamma, beta, mean, variance) of `channels` elements when the
  /// signature has a norm, appending them to `arguments` in the lowering's order.
  Epilogue(const KernelSignature &signature, int64_t channels,
           std::vector<Halide::Argument> *arguments);

  /// norm(act(value)) for output channel `channel`.
  Halide::Expr apply(Halide::Expr value, Halide::Expr channel) const;
  /// norm(activated): the rest of the epilogue for a value whose activation the caller applied.
  Halide::Expr normalize(Halide::Expr activated, Halide::Expr channel) const;

  /// The per-channel scale and shift are computed once per call, before the parallel loops.
  void schedule(const Halide::Target &target);

private:
  Activation activation_;
  bool norm_;
  Halide::Var c_{"c"};
  Halide::Func scale_{"bn_scale"}, shift_{"bn_shift"};
};

} // namespace mixerc

#endif
