// The memory-bound kernel families of the training step: layer-norm gradients, elementwise GELU
// and its gradient, gradient sums, the pooling gradient, softmax cross-entropy, and the fused
// optimizer updates over all trainable parameters at once. Each is one Halide algorithm with a
// parallel, vectorised schedule; none needs a tuned record.
#include "kernels/Epilogue.h"
#include "kernels/Kernels.h"
#include "kernels/RowStats.h"

#include <cmath>

using namespace Halide;

namespace mixerc {
namespace {

/// A flat buffer of any length (elementwise kernels and the optimizers).
ImageParam flatParam(const char *name, Type type = Float(32)) {
  ImageParam p(type, 1, name);
  pinDim(p, 0, 0, 1);
  return p;
}

/// A flat elementwise output: parallel chunks of 16 KiB, vectorised, any length.
void scheduleFlat(Func out, Var i, int lanes) {
  Var io("io"), ii("ii");
  out.split(i, io, ii, 4096, TailStrategy::GuardWithIf)
      .parallel(io)
      .vectorize(ii, lanes, TailStrategy::GuardWithIf);
}

/// Parallel over blocks of `block` of an output dimension of any extent.
void parallelBlocks(Stage stage, Var v, int block) {
  Var o("o"), i("i");
  stage.split(v, o, i, block, TailStrategy::GuardWithIf).parallel(o);
}

void pinRowsOutput(Func f, int64_t width) {
  pinDim(f.output_buffer(), 0, width, 1);
  pinDim(f.output_buffer(), 1, 0, width);
}

/// dgamma(c) = sum_rows dy * xhat and dbeta(c) = sum_rows dy as one Tuple reduction over `rows`
/// (two outputs), reading the row statistics from `stats`.
Func layerNormParamSums(ImageParam input, ImageParam grad, const RowStats &stats, int width, Var c,
                        RDom rows) {
  Expr dy = grad(c, rows), xhat = (input(c, rows) - stats.mean(rows)) * stats.rstd(rows);
  Func sums("param_grads");
  sums(c) = {0.0f, 0.0f};
  sums(c) = {sums(c)[0] + dy * xhat, sums(c)[1] + dy};
  for (OutputImageParam buffer : sums.output_buffers())
    buffer.dim(0).set_stride(1);
  pinDim(sums.output_buffers()[0], 0, width, 1);
  return sums;
}

// dx = rstd * (g - mean(g) - xhat * mean(g * xhat)), g = gamma * dy.
BuiltKernel buildLayerNormGrad(const KernelSignature &sig, const Target &target) {
  const int width = int(sig.n), lanes = target.natural_vector_size<float>();
  ImageParam input = rowsParam("input", width), gamma = vectorParam("gamma", width),
             grad = rowsParam("grad", width);
  RowStats stats(input, width, sig.epsilon);
  Var c("c"), row("row");
  RDom r(0, width, "r");
  Func xhat("xhat"), g("g"), gSum("g_sum"), gxSum("gx_sum"), out("out");
  xhat(c, row) = (input(c, row) - stats.mean(row)) * stats.rstd(row);
  g(c, row) = gamma(c) * grad(c, row);
  gSum(row) = 0.0f;
  gSum(row) += g(r, row);
  gxSum(row) = 0.0f;
  gxSum(row) += g(r, row) * xhat(r, row);
  Expr dx = stats.rstd(row) * (g(c, row) - gSum(row) / float(width) -
                               xhat(c, row) * gxSum(row) / float(width));
  std::vector<Argument> arguments{input, gamma, grad};
  if (sig.residual) {
    ImageParam residual = rowsParam("residual", width);
    arguments.push_back(residual);
    dx = dx + residual(c, row);
  }
  out(c, row) = dx;
  pinRowsOutput(out, width);
  // Tasks of 8 rows; with the parameter gradients, of the blocks of rows whose column sums they
  // also compute (the loop is named for them: compute_with fuses loops of the same name).
  const int rowsPerTask = sig.param_grads ? kColumnSumRowsPerBlock : 8;
  Var ro(sig.param_grads ? "block" : "ro"), ri("ri");
  out.split(row, ro, ri, rowsPerTask, TailStrategy::GuardWithIf)
      .parallel(ro)
      .vectorize(c, lanes, TailStrategy::GuardWithIf);
  stats.computeAt(out, sig.param_grads ? ro : ri, lanes);
  g.compute_at(out, ri).vectorize(c, lanes, TailStrategy::GuardWithIf);
  xhat.compute_at(out, ri).vectorize(c, lanes, TailStrategy::GuardWithIf);
  vectoriseRowSum(gSum, r, width, lanes, out, ri);
  vectoriseRowSum(gxSum, r, width, lanes, out, ri);
  if (!sig.param_grads)
    return {Pipeline(out), arguments};
  // dgamma = sum_rows dy * xhat and dbeta = sum_rows dy, per block of rows in the same loop
  // iteration as the block's dx (compute_with), sharing its row statistics and reading its input
  // and dy again from cache: the separate kernel's pass over both goes (in isolation, dx alone
  // 0.230 ms and dx with the sums 0.225 ms for Fashion-MNIST's 6272 x 128).
  RDom rows(0, grad.dim(1).extent(), "rows");
  Func sums = layerNormParamSums(input, grad, stats, width, c, rows);
  scheduleColumnSum(sums, c, rows, lanes, ro).update().compute_with(out, ro);
  return {Pipeline({out, sums}), arguments};
}

// dgamma = sum_rows dy * xhat, dbeta = sum_rows dy: one Tuple reduction over blocks of rows in
// parallel, each block's row statistics computed just before its column sums, so that the block's
// input comes from memory once and then from cache. (Statistics of all rows first, then separate
// sums for dgamma and dbeta, read the input twice and dy twice: Fashion-MNIST 1.7 ms per step.)
BuiltKernel buildLayerNormParamGrad(const KernelSignature &sig, const Target &target) {
  const int width = int(sig.n), lanes = target.natural_vector_size<float>();
  ImageParam input = rowsParam("input", width), grad = rowsParam("grad", width);
  RowStats stats(input, width, sig.epsilon);
  Var c("c"), block("block");
  RDom rows(0, grad.dim(1).extent(), "rows");
  Func sums = layerNormParamSums(input, grad, stats, width, c, rows);
  stats.computeAt(scheduleColumnSum(sums, c, rows, lanes, block), block, lanes);
  return {Pipeline(sums), {input, grad}};
}

/// Elementwise over flat buffers: act(x); act(x) and act'(x); dy * act'(x); a + b; a * b.
BuiltKernel buildElementwise(const KernelSignature &sig, const Target &target) {
  const int lanes = target.natural_vector_size<float>();
  Var i("i");
  Func out("out");
  ImageParam a = flatParam("a");
  std::vector<Argument> arguments{a};
  if (sig.op == KernelOp::Activation) {
    out(i) = activationValue(sig.activation, a(i));
  } else if (sig.op == KernelOp::ActivationTrain) {
    // One Tuple: the value and the derivative share their exp or tanh.
    auto [value, derivative] = activationWithDerivative(sig.activation, a(i));
    out(i) = Tuple(value, derivative);
  } else {
    ImageParam b = flatParam("b");
    arguments.push_back(b);
    if (sig.op == KernelOp::Add)
      out(i) = a(i) + b(i);
    else if (sig.op == KernelOp::Mul)
      out(i) = a(i) * b(i);
    else
      out(i) = b(i) * activationDerivative(sig.activation, a(i));
  }
  pinDim(out.output_buffers()[0], 0, 0, 1);
  if (out.outputs() > 1) // the second output shares the first one's min and extent
    out.output_buffers()[1].dim(0).set_stride(1);
  scheduleFlat(out, i, lanes);
  return {Pipeline(out), arguments};
}

BuiltKernel buildPoolGrad(const KernelSignature &sig, const Target &target) {
  const int channels = int(sig.n), tokens = int(sig.m);
  const int lanes = target.natural_vector_size<float>();
  ImageParam grad = rowsParam("grad", channels);
  Var c("c"), s("s"), b("b");
  Func out("out");
  out(c, s, b) = grad(c, b) / float(tokens);
  pinDim(out.output_buffer(), 0, channels, 1);
  pinDim(out.output_buffer(), 1, tokens, channels);
  pinDim(out.output_buffer(), 2, 0, channels * tokens);
  out.parallel(b).vectorize(c, lanes, TailStrategy::GuardWithIf);
  return {Pipeline(out), {grad}};
}

// Per image: loss = -sum_j q_j log softmax(x)_j with q = (1 - s) onehot + s / K, and the gradient
// of the batch mean, (softmax(x) - q) / N. hyper[0] is the label smoothing s.
BuiltKernel buildSoftmaxCrossEntropy(const KernelSignature &sig, const Target &target) {
  const int classes = int(sig.n), lanes = target.natural_vector_size<float>();
  ImageParam logits = rowsParam("logits", classes);
  ImageParam labels(Int(32), 1, "labels");
  pinDim(labels, 0, 0, 1);
  ImageParam hyper = flatParam("hyper");
  Expr smoothing = hyper(0), batch = cast<float>(logits.dim(1).extent());
  Var j("j"), b("b");
  RDom r(0, classes, "r");
  Func maximum("maximum"), sumExp("sum_exp"), logp("logp"), target_("target"), loss("loss"),
      grad("grad");
  maximum(b) = logits(0, b);
  maximum(b) = max(maximum(b), logits(r, b));
  sumExp(b) = 0.0f;
  sumExp(b) += exp(logits(r, b) - maximum(b));
  logp(j, b) = logits(j, b) - maximum(b) - log(sumExp(b));
  target_(j, b) = select(j == labels(b), 1.0f - smoothing, 0.0f) + smoothing / float(classes);
  loss(b) = 0.0f;
  loss(b) -= target_(r, b) * logp(r, b);
  grad(j, b) = (exp(logp(j, b)) - target_(j, b)) / batch;
  pinRowsOutput(grad, classes);
  pinDim(loss.output_buffer(), 0, 0, 1);
  grad.vectorize(j, lanes, TailStrategy::GuardWithIf);
  parallelBlocks(grad, b, 8);
  parallelBlocks(loss, b, 8);
  parallelBlocks(loss.update(), b, 8);
  for (Func f : {maximum, sumExp}) {
    f.compute_root();
    parallelBlocks(f, b, 8);
    parallelBlocks(f.update(), b, 8);
  }
  return {Pipeline({grad, loss}), {logits, labels, hyper}};
}

/// PyTorch's AdamW step (torch.optim.AdamW, foreach=False) on every trainable parameter at once:
/// p *= 1 - lr wd; m += (1 - b1)(g - m); v = b2 v + (1 - b2) g^2;
/// p -= (lr / bc1) m / (sqrt(v) / sqrt(bc2) + eps). hyper: 1 - lr wd, 1 - b1, b2, 1 - b2,
/// lr / bc1, sqrt(bc2), eps (the bias corrections bc = 1 - beta^step are computed in double on
/// the host, as PyTorch computes them in Python). Outputs alias the inputs (in place).
BuiltKernel buildAdamW(const Target &target) {
  const int lanes = target.natural_vector_size<float>();
  ImageParam param = flatParam("param"), grad = flatParam("grad"), m = flatParam("exp_avg"),
             v = flatParam("exp_avg_sq"), hyper = flatParam("hyper");
  Var i("i");
  Func out("out");
  Expr decayed = param(i) * hyper(0);
  Expr m1 = m(i) + hyper(1) * (grad(i) - m(i));
  Expr v1 = v(i) * hyper(2) + hyper(3) * grad(i) * grad(i);
  Expr denom = sqrt(v1) / hyper(5) + hyper(6);
  out(i) = {decayed - hyper(4) * (m1 / denom), m1, v1};
  for (int o = 0; o < 3; ++o) // all outputs share the first one's extent
    out.output_buffers()[size_t(o)].dim(0).set_stride(1);
  out.output_buffers()[0].dim(0).set_min(0);
  scheduleFlat(out, i, lanes);
  return {Pipeline(out), {param, grad, m, v, hyper}};
}

/// PyTorch's SGD with momentum (no dampening, no Nesterov; weight decay added to the gradient):
/// g += wd p; buf = momentum buf + g; p -= lr buf. hyper: lr, momentum, wd. In place.
BuiltKernel buildSgd(const Target &target) {
  const int lanes = target.natural_vector_size<float>();
  ImageParam param = flatParam("param"), grad = flatParam("grad"), buf = flatParam("momentum"),
             hyper = flatParam("hyper");
  Var i("i");
  Func out("out");
  Expr g = grad(i) + hyper(2) * param(i);
  Expr b1 = hyper(1) * buf(i) + g;
  out(i) = {param(i) - hyper(0) * b1, b1};
  for (int o = 0; o < 2; ++o)
    out.output_buffers()[size_t(o)].dim(0).set_stride(1);
  out.output_buffers()[0].dim(0).set_min(0);
  scheduleFlat(out, i, lanes);
  return {Pipeline(out), {param, grad, buf, hyper}};
}

/// packed(j, kk, p) = B[p * panel + j][kk], zero past B's rows, for B = W [n][k] or W^T [k][n]:
/// after every weight update, so parallel over panels and vectorised along the panel.
BuiltKernel buildPack(const KernelSignature &sig, const Target &target) {
  const int lanes = target.natural_vector_size<float>();
  const int rows = int(sig.n), cols = int(sig.k), panel = int(sig.panel);
  ImageParam weight(Float(32), 2, "weight"); // (cols, rows): W row-major
  pinDim(weight, 0, cols, 1);
  pinDim(weight, 1, rows, cols);
  const int n = sig.transposed ? cols : rows, k = sig.transposed ? rows : cols;
  const int panels = (n + panel - 1) / panel;
  Var j("j"), kk("kk"), p("p");
  Expr column = p * panel + j;
  Expr inside = column < n;
  Expr safe = min(column, n - 1);
  Expr value = sig.transposed ? weight(safe, kk) : weight(kk, safe);
  Func out("out");
  out(j, kk, p) = select(inside, value, 0.0f);
  pinDim(out.output_buffer(), 0, panel, 1);
  pinDim(out.output_buffer(), 1, k, panel);
  pinDim(out.output_buffer(), 2, panels, panel * k);
  Var ko("ko"), ki("ki"), task("task");
  const int vector = std::min(lanes, panel);
  if (!sig.transposed && n % panel == 0 && panel % vector == 0 && k % vector == 0) {
    // A transpose (when no panel needs zero padding): square tiles of vector x vector, read as
    // rows of W (contiguous along k) into registers and written as panel rows, which Halide turns
    // into shuffles instead of gathers. Each task takes a panel's k range of 16 tiles (or fewer,
    // dividing k); within it a band of `vector` rows of W is read along k before the next band,
    // so that W streams through a few prefetched rows at a time (S/16's 512 x 2048 in isolation:
    // 12 GB/s in one-tile tasks, 24-29 GB/s so; 128 or 512 deep chunks were no better).
    int chunk = 16 * vector; // a multiple of the tile dividing k, so that no tile is guarded
    while (k % chunk != 0)
      chunk /= 2;
    Var jo("jo"), ji("ji"), kt("kt");
    Func rowsOfW = weight.in();
    out.split(kk, kt, kk, chunk)
        .split(kk, ko, ki, vector)
        .split(j, jo, ji, vector)
        .reorder(ji, ki, ko, jo, kt, p)
        .fuse(kt, p, task)
        .parallel(task)
        .vectorize(ji)
        .unroll(ki);
    rowsOfW.compute_at(out, jo).vectorize(rowsOfW.args()[0]).unroll(rowsOfW.args()[1]);
  } else {
    // Each task takes 64 values of k across all panels. In the transposed form (mostly) a panel
    // row is a run of one row of W, so a task reads 64 whole rows of W in order and writes their
    // runs into every panel; a ragged untransposed weight (a 1000-class head) is gathered.
    out.split(kk, ko, ki, 64, TailStrategy::GuardWithIf)
        .reorder(j, p, ki, ko)
        .parallel(ko)
        .vectorize(j, vector, TailStrategy::GuardWithIf);
  }
  return {Pipeline(out), {weight}};
}

} // namespace

BuiltKernel buildTrainingKernel(const KernelSignature &sig, const Target &target) {
  switch (sig.op) {
  case KernelOp::LayerNormGrad: return buildLayerNormGrad(sig, target);
  case KernelOp::LayerNormParamGrad: return buildLayerNormParamGrad(sig, target);
  case KernelOp::GlobalAvgPoolGrad: return buildPoolGrad(sig, target);
  case KernelOp::SoftmaxCrossEntropy: return buildSoftmaxCrossEntropy(sig, target);
  case KernelOp::AdamW: return buildAdamW(target);
  case KernelOp::SgdMomentum: return buildSgd(target);
  case KernelOp::Pack: return buildPack(sig, target);
  default: return buildElementwise(sig, target);
  }
}

} // namespace mixerc
