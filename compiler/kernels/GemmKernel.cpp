// The GEMM kernel family: dense layers along channels (activations x packed weights), along tokens
// (weights x activations, batched) and the patch embedding (im2col x packed weights), each with a
// fused epilogue (kernels/Epilogue.h) norm(act(acc + bias)) [+ residual] [x scale], with
// act'(acc + bias) as a second output in a training forward pass. The algorithm is one
// definition; the schedule is the register-blocked template of PERFORMANCE.md driven by a
// GemmSchedule record.
#include "kernels/Kernels.h"

#include <optional>

#include "kernels/Epilogue.h"
#include "schedule/GemmSchedule.h"

using namespace Halide;

namespace mixerc {
namespace {

class GemmKernel {
public:
  GemmKernel(const KernelSignature &sig, const Target &target, const GemmSchedule &schedule)
      : sig_(sig), target_(target), schedule_(schedule) {}

  BuiltKernel build() {
    defineAlgorithm();
    applySchedule();
    epilogue_->schedule(target_);
    return {Pipeline(out_), arguments_};
  }

private:
  bool batched() const { return sig_.op == KernelOp::DenseTokens; }

  /// out(n, m[, b]) = norm(act(sum_k A(k, m[, b]) * B(n, k[, b]) [+ bias])) [+ residual]
  void defineAlgorithm() {
    const int64_t n = sig_.n, k = sig_.k;
    Func a("a"), bmat("b");
    ImageParam bias(Float(32), 1, "bias");
    pinDim(bias, 0, batched() ? sig_.m : n, 1);
    Expr biasValue;
    if (batched()) {
      ImageParam weight(Float(32), 2, "weight"), input(Float(32), 3, "input");
      pinDim(weight, 0, k, 1);
      pinDim(weight, 1, sig_.m, k);
      pinDim(input, 0, n, 1);
      pinDim(input, 1, k, n);
      pinDim(input, 2, 0, k * n);
      a(kv_, m_, b_) = weight(kv_, m_);
      bmat(n_, kv_, b_) = input(n_, kv_, b_);
      arguments_ = {weight, input};
      biasValue = bias(m_);
    } else {
      ImageParam packed(Float(32), 3, "packed_weight");
      const int64_t panel = sig_.panel;
      pinDim(packed, 0, panel, 1);
      pinDim(packed, 1, k, panel);
      pinDim(packed, 2, (n + panel - 1) / panel, k * panel);
      bmat(n_, kv_) = packed(n_ % int(panel), kv_, n_ / int(panel));
      if (sig_.op == KernelOp::PatchEmbed) {
        ImageParam image(Float(32), 4, "image");
        const int64_t w = sig_.image_width, h = sig_.image_height, p = sig_.patch;
        pinDim(image, 0, w, 1);
        pinDim(image, 1, h, w);
        pinDim(image, 2, sig_.image_channels, h * w);
        pinDim(image, 3, 0, sig_.image_channels * h * w);
        // Row m is patch s of image b; feature k is (channel, y, x) as in the conv weight.
        Expr s = m_ % int(sig_.rows_per_image), img = m_ / int(sig_.rows_per_image);
        Expr py = s / int(w / p), px = s % int(w / p);
        Expr ci = kv_ / int(p * p), ky = (kv_ / int(p)) % int(p), kx = kv_ % int(p);
        a(kv_, m_) = image(px * int(p) + kx, py * int(p) + ky, ci, img);
        arguments_ = {image, packed};
      } else {
        ImageParam input(Float(32), 2, "input");
        pinDim(input, 0, k, 1);
        pinDim(input, 1, 0, k);
        a(kv_, m_) = input(kv_, m_);
        arguments_ = {input, packed};
      }
      biasValue = bias(n_);
    }
    // The backward pass's products (dx = dy W) have no bias.
    if (sig_.bias)
      arguments_.push_back(bias);
    else
      biasValue = 0.0f;
    a_ = a;

    std::vector<Var> vars = outVars();
    std::vector<Expr> aArgs{r_}, bArgs{n_, r_};
    aArgs.push_back(m_);
    if (batched()) {
      aArgs.push_back(b_);
      bArgs.push_back(b_);
    }
    prod_(vars) = 0.0f;
    prod_(vars) += a(aArgs) * bmat(bArgs);
    epilogue_.emplace(sig_, n, &arguments_);
    Expr linear = prod_(vars) + biasValue;
    Expr value, derivative;
    if (sig_.derivative) {
      auto [activated, slope] = activationWithDerivative(sig_.activation, linear);
      value = epilogue_->normalize(activated, n_);
      derivative = slope;
    } else {
      value = epilogue_->apply(linear, n_);
    }
    if (sig_.residual) {
      ImageParam residual(Float(32), batched() ? 3 : 2, "residual");
      pinOutputLike(residual);
      arguments_.push_back(residual);
      value = value + residual(vars);
    }
    if (sig_.scale) {
      scale_ = ImageParam(Float(32), batched() ? 3 : 2, "scale");
      pinOutputLike(*scale_);
      arguments_.push_back(*scale_);
      value = value * (*scale_)(vars);
    }
    // A training forward GEMM also writes act'(linear), the multiplier of the backward pass; one
    // Tuple lets the value and the derivative share their exp or tanh.
    if (sig_.derivative)
      out_(vars) = Tuple(value, derivative);
    else
      out_(vars) = value;
    pinOutputLike(out_.output_buffers()[0]);
    if (sig_.derivative) { // the second output shares the first one's mins and extents
      OutputImageParam derivative = out_.output_buffers()[1];
      for (int d = 0; d < derivative.dimensions(); ++d)
        derivative.dim(d).set_stride(out_.output_buffers()[0].dim(d).stride());
    }
  }

  std::vector<Var> outVars() const {
    return batched() ? std::vector<Var>{n_, m_, b_} : std::vector<Var>{n_, m_};
  }

  void pinOutputLike(OutputImageParam buffer) {
    pinDim(buffer, 0, sig_.n, 1);
    if (batched()) {
      pinDim(buffer, 1, sig_.m, sig_.n);
      pinDim(buffer, 2, 0, sig_.m * sig_.n);
    } else {
      pinDim(buffer, 1, 0, sig_.n);
    }
  }

  /// The register-blocked template: per task a block of micro-tiles of rows against one column
  /// panel; per micro-tile a micro_rows x panel accumulator kept in registers across all of k.
  void scheduleTiles(Stage stage, int microRows) {
    const GemmSchedule &s = schedule_;
    // A ragged last column panel over packed weights (a head of 1000 classes) is guarded, not
    // shifted inwards: the panels are zero-padded, so its accumulator's reads stay in bounds, and
    // no column is computed twice, so every panel may go to any thread. Token mixing reads its
    // B from the activations, which are not padded: there the last panel shifts inwards.
    const bool ragged = sig_.n % s.panel != 0;
    const bool guarded = ragged && !batched();
    stage.split(n_, no_, ni_, s.panel,
                guarded ? TailStrategy::GuardWithIf : TailStrategy::ShiftInwards)
        .split(m_, mo_, mi_, microRows, TailStrategy::ShiftInwards)
        .split(mo_, mb_, mo_, rowBlockTiles(microRows), TailStrategy::GuardWithIf)
        .split(ni_, nv_, ni_, s.vector);
    // Inside a micro-tile, then the tile loops (row tiles within panels, or the reverse), then
    // the task loops given.
    auto orderTiles = [&](std::vector<VarOrRVar> outer) {
      std::vector<VarOrRVar> order{ni_, nv_, mi_};
      if (s.panels_inner)
        order.insert(order.end(), {no_, mo_});
      else
        order.insert(order.end(), {mo_, no_});
      order.insert(order.end(), outer.begin(), outer.end());
      stage.reorder(order);
    };
    orderTiles({mb_});
    stage.vectorize(ni_)
        .unroll(nv_)
        .unroll(mi_);
    // A shifted-inwards last column tile overlaps its neighbour; a column computed in two tiles
    // sits in different vector lanes and may round differently, so both tiles must run in one
    // task, in order, for the result not to depend on which thread wrote last. Rows likewise:
    // rowBlockTiles keeps the last row tile in its neighbour's block.
    const int64_t panels = (sig_.n + s.panel - 1) / s.panel;
    if ((ragged && !guarded) || s.panels_per_task == 0 || s.panels_per_task >= panels) {
      stage.rename(mb_, task_); // all column tiles are a serial loop inside each task
    } else {
      stage.split(no_, nt_, no_, s.panels_per_task, TailStrategy::GuardWithIf);
      orderTiles({nt_, mb_});
      stage.fuse(nt_, mb_, task_);
    }
    if (batched())
      stage.fuse(task_, b_, task_);
    stage.parallel(task_);
  }

  /// Row tiles per parallel block. A shifted-inwards last row tile overlaps the tile before it,
  /// and a row computed at another position of the unrolled register tile can round
  /// differently, so the two must share a block, or the result depends on which thread wrote
  /// last: Mixer-S/16 and B/16 at batch 1 (196 rows: 33 tiles of 6, blocks of 16, 16 and the
  /// shifted tile alone) gave logits that varied by up to 4.6e-7 relative from call to call. Where the
  /// template's block size would leave the last tile alone, a neighbouring size is taken (the
  /// row count is known only at run time for batch-scaled rows), and all tiles in one block
  /// only if every candidate would.
  Expr rowBlockTiles(int microRows) const {
    const int preferred = schedule_.tiles_per_block;
    Expr rows = batched() ? Expr(int(sig_.m)) : out_.output_buffers()[0].dim(1).extent();
    Expr tiles = (rows + microRows - 1) / microRows;
    Expr choice = Halide::max(tiles, 1);
    for (int size : {preferred + 2, preferred - 2, preferred + 1, preferred - 1, preferred})
      if (size >= 2)
        choice = select(rows % microRows == 0 || (tiles - 1) % size != 0, size, choice);
    return choice;
  }

  void applySchedule() {
    const GemmSchedule &s = schedule_;
    const int microRows = s.micro_rows;
    // Batch-scaled rows may be fewer than one micro-tile (the head at batch 1): that case gets
    // one-row tiles; everything else the full register tile.
    if (batched() || sig_.rows_per_image >= microRows) {
      scheduleTiles(out_, microRows);
    } else {
      Expr rows = out_.output_buffers()[0].dim(1).extent();
      scheduleTiles(out_.specialize(rows >= microRows), microRows);
      scheduleTiles(out_, 1);
    }
    // The accumulator lives in registers for one micro-tile: at the innermost tile loop.
    prod_.compute_at(out_, s.panels_inner ? no_ : mo_)
        .split(n_, nv_, ni_, s.vector)
        .vectorize(ni_)
        .unroll(nv_)
        .unroll(m_);
    RVar ro("ro"), ri("ri");
    prod_.update()
        .split(n_, nv_, ni_, s.vector)
        .split(r_, ro, ri, s.k_unroll)
        .reorder(ni_, nv_, m_, ri, ro)
        .vectorize(ni_)
        .unroll(nv_)
        .unroll(m_)
        .unroll(ri);
    if (sig_.op == KernelOp::PatchEmbed)
      a_.compute_at(out_, task_).vectorize(kv_, s.vector, TailStrategy::GuardWithIf);
  }

  KernelSignature sig_;
  Target target_;
  GemmSchedule schedule_;
  std::optional<Epilogue> epilogue_;
  std::optional<ImageParam> scale_; ///< the epilogue's multiplier (a saved derivative)
  Var n_{"n"}, m_{"m"}, b_{"b"}, kv_{"k"};
  Var no_{"no"}, ni_{"ni"}, nv_{"nv"}, nt_{"nt"}, mo_{"mo"}, mi_{"mi"}, mb_{"mb"}, task_{"task"};
  RDom r_{0, int(sig_.k), "r"};
  Func prod_{"accumulator"}, out_{"out"}, a_;
  std::vector<Argument> arguments_;
};

} // namespace

BuiltKernel buildGemmKernel(const KernelSignature &signature, const Target &target,
                            const GemmSchedule &schedule) {
  return GemmKernel(signature, target, schedule).build();
}

} // namespace mixerc
