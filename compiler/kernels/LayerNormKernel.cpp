// The layer-norm kernel family: normalise each row of a (width, rows) view over its width.
// Two-pass (mean, then centred variance) like PyTorch, for accuracy at f32.
#include "kernels/Kernels.h"
#include "kernels/RowStats.h"

using namespace Halide;

namespace mixerc {

BuiltKernel buildLayerNormKernel(const KernelSignature &sig, const Target &target) {
  const int width = int(sig.n);
  ImageParam input(Float(32), 2, "input"), gamma(Float(32), 1, "gamma"), beta(Float(32), 1, "beta");
  pinDim(input, 0, width, 1);
  pinDim(input, 1, 0, width);
  pinDim(gamma, 0, width, 1);
  pinDim(beta, 0, width, 1);

  // Algorithm.
  Var c("c"), row("row");
  RowStats stats(input, width, sig.epsilon);
  Func out("out");
  out(c, row) = (input(c, row) - stats.mean(row)) * stats.rstd(row) * gamma(c) + beta(c);
  pinDim(out.output_buffer(), 0, width, 1);
  pinDim(out.output_buffer(), 1, 0, width);

  // Schedule: rows in parallel blocks; the two reductions vectorised across the row by rfactor.
  // Measured 2026-11-23, Zen 3 AVX2, 2 threads: 2.2 ms for B/16 at batch 32 (6272 rows of 768),
  // about 1% of the forward pass.
  const int vector = target.natural_vector_size<float>();
  Var ro("ro"), ri("ri");
  out.split(row, ro, ri, 8, TailStrategy::GuardWithIf).parallel(ro).vectorize(c, vector,
                                                                          TailStrategy::GuardWithIf);
  stats.computeAt(out, ri, vector);
  return {Pipeline(out), {input, gamma, beta}};
}

} // namespace mixerc
