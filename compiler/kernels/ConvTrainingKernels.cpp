// The kernel families ConvMixer's training adds: BatchNorm with batch statistics (forward, with
// the running-statistics update in place, and backward) and the depthwise convolution's input and
// weight gradients. Buffers are channels last: a BatchNorm sees (channels, rows), a depthwise
// kernel (channels, width, height, batch) and its weight (j, i, channel) for [C][1][k][k].
#include "kernels/Kernels.h"

using namespace Halide;

namespace mixerc {
namespace {

ImageParam gridParam(const char *name, const KernelSignature &sig) {
  ImageParam p(Float(32), 4, name);
  const int64_t c = sig.n, w = sig.image_width, h = sig.image_height;
  pinDim(p, 0, c, 1);
  pinDim(p, 1, w, c);
  pinDim(p, 2, h, c * w);
  pinDim(p, 3, 0, c * w * h);
  return p;
}

void pinChannels(Func f, int64_t channels) { pinDim(f.output_buffer(), 0, channels, 1); }

/// Parallel over blocks of rows, vectorised along the channels.
void scheduleRowsOutput(Func f, Var c, Var row, int lanes) {
  Var ro("ro"), ri("ri");
  f.split(row, ro, ri, 16, TailStrategy::GuardWithIf)
      .parallel(ro)
      .vectorize(c, lanes, TailStrategy::GuardWithIf);
}

BuiltKernel buildBatchNormTrain(const KernelSignature &sig, const Target &target) {
  const int channels = int(sig.n), lanes = target.natural_vector_size<float>();
  ImageParam x = rowsParam("input", channels);
  ImageParam gamma = vectorParam("gamma", channels), beta = vectorParam("beta", channels),
             runningMean = vectorParam("running_mean", channels),
             runningVar = vectorParam("running_var", channels);
  Expr rows = x.dim(1).extent();
  Expr count = cast<float>(rows);
  Var c("c"), row("row");
  RDom r(0, rows, "r");
  Func sum("sum"), squares("squares"), mean("mean"), variance("variance"), invstd("invstd");
  sum(c) = 0.0f;
  sum(c) += x(c, r);
  mean(c) = sum(c) / count;
  squares(c) = 0.0f;
  Expr centred = x(c, r) - mean(c);
  squares(c) += centred * centred;
  variance(c) = squares(c) / count;
  invstd(c) = 1.0f / sqrt(variance(c) + float(sig.epsilon));

  Func y("y"), meanOut("mean_out"), invstdOut("invstd_out"), meanUpdate("running_mean_out"),
      varUpdate("running_var_out");
  y(c, row) = (x(c, row) - mean(c)) * invstd(c) * gamma(c) + beta(c);
  meanOut(c) = mean(c);
  invstdOut(c) = invstd(c);
  // PyTorch: running statistics move towards the batch's, the variance unbiased.
  const float m = float(sig.momentum);
  Expr unbiased = variance(c) * count / max(count - 1.0f, 1.0f);
  meanUpdate(c) = (1.0f - m) * runningMean(c) + m * mean(c);
  varUpdate(c) = (1.0f - m) * runningVar(c) + m * unbiased;
  pinDim(y.output_buffer(), 0, channels, 1);
  pinDim(y.output_buffer(), 1, 0, channels);
  for (Func f : {meanOut, invstdOut, meanUpdate, varUpdate})
    pinChannels(f, channels);

  for (Func f : {sum, squares}) {
    f.compute_root();
    scheduleColumnSum(f, c, r, lanes);
  }
  for (Func f : {mean, invstd})
    f.compute_root().vectorize(c, lanes, TailStrategy::GuardWithIf);
  scheduleRowsOutput(y, c, row, lanes);
  return {Pipeline({y, meanOut, invstdOut, meanUpdate, varUpdate}),
          {x, gamma, beta, runningMean, runningVar}};
}

BuiltKernel buildBatchNormGrad(const KernelSignature &sig, const Target &target) {
  const int channels = int(sig.n), lanes = target.natural_vector_size<float>();
  ImageParam x = rowsParam("input", channels), dy = rowsParam("grad", channels);
  ImageParam gamma = vectorParam("gamma", channels), mean = vectorParam("mean", channels),
             invstd = vectorParam("invstd", channels);
  Expr count = cast<float>(x.dim(1).extent());
  Var c("c"), row("row");
  RDom r(0, x.dim(1).extent(), "r");
  Func dgamma("gamma_grad"), dbeta("beta_grad"), dx("dx");
  Expr xhat = (x(c, r) - mean(c)) * invstd(c);
  dbeta(c) = 0.0f;
  dbeta(c) += dy(c, r);
  dgamma(c) = 0.0f;
  dgamma(c) += dy(c, r) * xhat;
  Expr xhatRow = (x(c, row) - mean(c)) * invstd(c);
  dx(c, row) = gamma(c) * invstd(c) *
               (dy(c, row) - dbeta(c) / count - xhatRow * dgamma(c) / count);
  pinDim(dx.output_buffer(), 0, channels, 1);
  pinDim(dx.output_buffer(), 1, 0, channels);
  pinChannels(dgamma, channels);
  pinChannels(dbeta, channels);
  for (Func f : {dbeta, dgamma}) {
    f.compute_root();
    scheduleColumnSum(f, c, r, lanes);
  }
  scheduleRowsOutput(dx, c, row, lanes);
  return {Pipeline({dx, dgamma, dbeta}), {x, gamma, mean, invstd, dy}};
}

// dx(c, x, y, n) = sum_{i,j} w(j, i, c) dy(c, x - j + a, y - i + a, n), zero outside the image.
BuiltKernel buildDepthwiseGradInput(const KernelSignature &sig, const Target &target) {
  const int k = int(sig.kernel_size), a = (k - 1) / 2, lanes = target.natural_vector_size<float>();
  ImageParam dy = gridParam("grad", sig);
  ImageParam weight(Float(32), 3, "weight");
  pinDim(weight, 0, k, 1);
  pinDim(weight, 1, k, k);
  pinDim(weight, 2, sig.n, k * k);
  Func padded = BoundaryConditions::constant_exterior(
      dy, 0.0f, {{Expr(), Expr()}, {0, int(sig.image_width)}, {0, int(sig.image_height)},
                 {Expr(), Expr()}});
  Var c("c"), x("x"), y("y"), n("n");
  RDom t(0, k, 0, k, "t");
  Func dx("dx");
  dx(c, x, y, n) = 0.0f;
  dx(c, x, y, n) += weight(t.x, t.y, c) * padded(c, x - t.x + a, y - t.y + a, n);
  pinDim(dx.output_buffer(), 0, sig.n, 1);
  pinDim(dx.output_buffer(), 1, sig.image_width, sig.n);
  pinDim(dx.output_buffer(), 2, sig.image_height, sig.n * sig.image_width);
  pinDim(dx.output_buffer(), 3, 0, sig.n * sig.image_width * sig.image_height);
  Var task("task");
  dx.fuse(y, n, task).parallel(task).vectorize(c, lanes, TailStrategy::GuardWithIf);
  dx.update()
      .reorder(c, t.x, t.y, x, y, n)
      .fuse(y, n, task)
      .parallel(task)
      .vectorize(c, lanes, TailStrategy::GuardWithIf);
  return {Pipeline(dx), {dy, weight}};
}

// dw(j, i, c) = sum_{n,y,x} dy(c, x, y, n) in(c, x + j - a, y + i - a, n): per image partial
// sums (parallel over the batch), then their total.
BuiltKernel buildDepthwiseGradWeight(const KernelSignature &sig, const Target &target) {
  const int k = int(sig.kernel_size), a = (k - 1) / 2, lanes = target.natural_vector_size<float>();
  ImageParam input = gridParam("input", sig), dy = gridParam("grad", sig);
  Func padded = BoundaryConditions::constant_exterior(
      input, 0.0f, {{Expr(), Expr()}, {0, int(sig.image_width)}, {0, int(sig.image_height)},
                    {Expr(), Expr()}});
  Var j("j"), i("i"), c("c"), n("n");
  RDom p(0, int(sig.image_width), 0, int(sig.image_height), "p");
  RDom images(0, dy.dim(3).extent(), "images");
  Func perImage("per_image"), dw("dw");
  perImage(c, j, i, n) = 0.0f;
  perImage(c, j, i, n) += dy(c, p.x, p.y, n) * padded(c, p.x + j - a, p.y + i - a, n);
  dw(j, i, c) = 0.0f;
  dw(j, i, c) += perImage(c, j, i, images);
  pinDim(dw.output_buffer(), 0, k, 1);
  pinDim(dw.output_buffer(), 1, k, k);
  pinDim(dw.output_buffer(), 2, sig.n, k * k);
  perImage.compute_root().parallel(n).vectorize(c, lanes, TailStrategy::GuardWithIf);
  perImage.update()
      .reorder(c, j, p.x, p.y, i, n)
      .parallel(n)
      .vectorize(c, lanes, TailStrategy::GuardWithIf)
      .unroll(j);
  perImage.bound(j, 0, k).bound(i, 0, k);
  return {Pipeline(dw), {input, dy}};
}

} // namespace

BuiltKernel buildConvTrainingKernel(const KernelSignature &sig, const Target &target) {
  switch (sig.op) {
  case KernelOp::BatchNormTrain: return buildBatchNormTrain(sig, target);
  case KernelOp::BatchNormGrad: return buildBatchNormGrad(sig, target);
  case KernelOp::DepthwiseGradInput: return buildDepthwiseGradInput(sig, target);
  default: return buildDepthwiseGradWeight(sig, target);
  }
}

} // namespace mixerc
