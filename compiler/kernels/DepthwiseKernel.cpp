// The depthwise convolution family: ConvMixer's k x k per-channel 'same' convolution on a
// channels-last grid, with the fused epilogue (kernels/Epilogue.h) and residual.
//
// Channels last makes every tap a contiguous vector load, so the schedule vectorises channels and
// register-blocks a few neighbouring pixels: for one kernel row, a tile of `pixels` outputs needs
// pixels + k - 1 input vectors and k weight vectors for pixels * k FMAs. A task is a block of
// channels x a strip of rows of one image; it first copies its input window with the zero
// padding into a small L2-resident buffer, so the taps never test a boundary (testing them per
// tap, as an inlined boundary condition does, halved the speed on small grids, where most tiles
// touch an edge).
#include "kernels/Epilogue.h"
#include "kernels/Kernels.h"

using namespace Halide;

namespace mixerc {

BuiltKernel buildDepthwiseKernel(const KernelSignature &sig, const Target &target,
                                 const DepthwiseSchedule &schedule) {
  const int channels = int(sig.n), width = int(sig.image_width), height = int(sig.image_height);
  const int k = int(sig.kernel_size), before = (k - 1) / 2; // PyTorch's padding='same'

  ImageParam input(Float(32), 4, "input"); // (c, x, y, b)
  auto pinGrid = [&](OutputImageParam buffer) {
    pinDim(buffer, 0, channels, 1);
    pinDim(buffer, 1, width, channels);
    pinDim(buffer, 2, height, int64_t(width) * channels);
    pinDim(buffer, 3, 0, int64_t(height) * width * channels);
  };
  pinGrid(input);
  ImageParam taps(Float(32), 3, "taps"); // the weight packed as one panel: (c, tap, 0)
  pinDim(taps, 0, channels, 1);
  pinDim(taps, 1, int64_t(k) * k, channels);
  pinDim(taps, 2, 1, int64_t(k) * k * channels);
  ImageParam bias(Float(32), 1, "bias");
  pinDim(bias, 0, channels, 1);
  std::vector<Argument> arguments{input, taps, bias};
  Epilogue epilogue(sig, channels, &arguments);

  Var c("c"), x("x"), y("y"), b("b");
  Func padded = BoundaryConditions::constant_exterior(
      input, 0.0f, {Range(Expr(), Expr()), Range(0, width), Range(0, height), Range(Expr(), Expr())});
  RDom r(0, k, 0, k, "r");
  Func conv("conv"), out("out");
  conv(c, x, y, b) = bias(c);
  conv(c, x, y, b) += padded(c, x + r.x - before, y + r.y - before, b) * taps(c, r.x + r.y * k, 0);
  Expr value = epilogue.apply(conv(c, x, y, b), c);
  if (sig.residual) {
    ImageParam residual(Float(32), 4, "residual");
    pinGrid(residual);
    arguments.push_back(residual);
    value = value + residual(c, x, y, b);
  }
  out(c, x, y, b) = value;
  pinGrid(out.output_buffer());

  // Schedule (schedule/DepthwiseSchedule.h): a task is (channel block, row strip, image); a tile
  // is `pixels` neighbours x `vectors` channel vectors.
  const int vector = schedule.vector, channelTile = schedule.vectors * schedule.vector;
  const int pixels = schedule.pixels, channelBlock = schedule.channel_block, rows = schedule.rows;
  Var cb("cb"), co("co"), ci("ci"), cv("cv"), xo("xo"), xi("xi"), ys("ys"), task("task");
  out.split(c, cb, c, channelBlock, TailStrategy::ShiftInwards)
      .split(c, co, ci, channelTile, TailStrategy::ShiftInwards)
      .split(y, ys, y, rows, TailStrategy::ShiftInwards)
      .split(x, xo, xi, pixels, TailStrategy::ShiftInwards)
      .split(ci, cv, ci, vector)
      .reorder(ci, cv, xi, co, xo, y, cb, ys, b)
      .vectorize(ci)
      .unroll(cv)
      .unroll(xi)
      .fuse(cb, ys, task)
      .fuse(task, b, task)
      .parallel(task);
  padded.compute_at(out, task).vectorize(padded.args()[0], vector, TailStrategy::GuardWithIf);
  conv.compute_at(out, co).vectorize(c, vector).unroll(c).unroll(x);
  conv.update()
      .split(c, cv, c, vector)
      .reorder(c, cv, x, r.x, r.y)
      .vectorize(c)
      .unroll(cv)
      .unroll(x)
      .unroll(r.x);
  epilogue.schedule(target);
  return {Pipeline(out), arguments};
}

} // namespace mixerc
