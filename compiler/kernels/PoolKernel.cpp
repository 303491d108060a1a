// The global-average-pool kernel family: mean over the token dimension of (channels, tokens, b).
#include "kernels/Kernels.h"

using namespace Halide;

namespace mixerc {

BuiltKernel buildPoolKernel(const KernelSignature &sig, const Target &target) {
  const int channels = int(sig.n), tokens = int(sig.m);
  ImageParam input(Float(32), 3, "input");
  pinDim(input, 0, channels, 1);
  pinDim(input, 1, tokens, channels);
  pinDim(input, 2, 0, channels * tokens);

  Var c("c"), b("b");
  RDom s(0, tokens, "s");
  Func sum("sum"), out("out");
  sum(c, b) = 0.0f;
  sum(c, b) += input(c, s, b);
  out(c, b) = sum(c, b) / float(tokens);
  pinDim(out.output_buffer(), 0, channels, 1);
  pinDim(out.output_buffer(), 1, 0, channels);

  const int vector = target.natural_vector_size<float>();
  out.parallel(b).vectorize(c, vector, TailStrategy::GuardWithIf);
  sum.compute_at(out, b).vectorize(c, vector, TailStrategy::GuardWithIf);
  sum.update().reorder(c, s.x).vectorize(c, vector, TailStrategy::GuardWithIf);
  return {Pipeline(out), {input}};
}

} // namespace mixerc
