// mixer-fuse-elementwise: fold activations, inference BatchNorms and residual adds into the op that
// produces their input (any EpilogueOpInterface op: dense, patch_embed, depthwise_conv2d). The
// epilogue order is fixed, residual + norm(act(linear)), so each pattern only fires when the parts
// after it are still empty: folding never reorders the computation. In a training function it also
// folds GELU's training form (value and derivative) into the dense layer that feeds it, the
// residual gradient sums into the layer-norm gradients and the activations' backward multiplies
// into the transposed GEMMs that produce their gradient.
#include "mixer/MixerOps.h"
#include "mixer/MixerPasses.h"

#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace mixer {
#define GEN_PASS_DEF_MIXERFUSEELEMENTWISE
#include "mixer/MixerPasses.h.inc"
} // namespace mixer

using namespace mlir;

namespace {

/// The epilogue op producing `v` if `v` is its only use, or null with the reason in `why`.
mixer::EpilogueOp soleProducer(Value v, const char **why) {
  auto producer = v.getDefiningOp<mixer::EpilogueOp>();
  if (!producer) {
    *why = "input is not produced by an op with an epilogue";
    return {};
  }
  if (!producer->hasOneUse()) {
    *why = "the producer's result has other uses";
    return {};
  }
  return producer;
}

/// The epilogue's name for a GELU of this approximation.
StringRef geluActivation(StringRef approximation) {
  return approximation == "tanh" ? "gelu_tanh" : "gelu_erf";
}

/// act(producer(x)) -> producer(x) {activation = act}
template <typename ActivationOp>
struct FuseActivation : OpRewritePattern<ActivationOp> {
  using OpRewritePattern<ActivationOp>::OpRewritePattern;

  static StringRef fusedName(mixer::GeluOp gelu) {
    return geluActivation(gelu.getApproximation());
  }
  static StringRef fusedName(mixer::ReluOp) { return "relu"; }

  LogicalResult matchAndRewrite(ActivationOp act, PatternRewriter &rewriter) const override {
    const char *why = nullptr;
    mixer::EpilogueOp producer = soleProducer(act.getInput(), &why);
    if (!producer)
      return rewriter.notifyMatchFailure(act, why);
    if (producer.getActivation() != "none" || !producer.getNorm().empty() ||
        producer.getResidual())
      return rewriter.notifyMatchFailure(act, "the producer's epilogue is already past this step");
    rewriter.modifyOpInPlace(producer, [&] { producer.setActivation(fusedName(act)); });
    rewriter.replaceOp(act, producer->getResult(0));
    return success();
  }
};

/// batch_norm(producer(x)) -> producer(x) norm(gamma, beta, mean, variance)
struct FuseBatchNorm : OpRewritePattern<mixer::BatchNormOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(mixer::BatchNormOp norm, PatternRewriter &rewriter) const override {
    const char *why = nullptr;
    mixer::EpilogueOp producer = soleProducer(norm.getInput(), &why);
    if (!producer)
      return rewriter.notifyMatchFailure(norm, why);
    if (!producer.getNorm().empty() || producer.getResidual())
      return rewriter.notifyMatchFailure(norm, "the producer's epilogue is already past this step");
    rewriter.modifyOpInPlace(producer, [&] {
      producer.getNormMutable().assign(
          ValueRange{norm.getGamma(), norm.getBeta(), norm.getMean(), norm.getVariance()});
      producer.setNormEpsilon(norm.getEpsilon());
    });
    // The statistics may be defined after the producer; the norm op's position dominates them.
    rewriter.moveOpBefore(producer, norm);
    rewriter.replaceOp(norm, producer->getResult(0));
    return success();
  }
};

/// add(producer(x), r) or add(r, producer(x)) -> producer(x) residual r
struct FuseResidual : OpRewritePattern<mixer::AddOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(mixer::AddOp add, PatternRewriter &rewriter) const override {
    for (auto [mine, other] : {std::pair{add.getLhs(), add.getRhs()},
                               std::pair{add.getRhs(), add.getLhs()}}) {
      const char *why = nullptr;
      mixer::EpilogueOp producer = soleProducer(mine, &why);
      if (!producer || producer.getResidual() || producer->getResult(0).getType() != other.getType())
        continue;
      rewriter.modifyOpInPlace(producer, [&] { producer.getResidualMutable().assign(other); });
      // The residual may be defined after the producer only if it is the add's own operand,
      // which dominates the add; move the producer down to the add to keep dominance.
      rewriter.moveOpBefore(producer, add);
      rewriter.replaceOp(add, producer->getResult(0));
      return success();
    }
    return rewriter.notifyMatchFailure(add, "no operand is a single-use producer without residual");
  }
};

/// gelu_train(dense(x)) -> dense(x) {activation = gelu} that also returns the derivative: the
/// training forward's activation and its saved derivative are computed in the GEMM's epilogue
/// while the pre-activation is in registers, instead of in a pass that reads it back.
struct FuseActivationTrain : OpRewritePattern<mixer::GeluTrainOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(mixer::GeluTrainOp gelu, PatternRewriter &rewriter) const override {
    auto dense = gelu.getInput().getDefiningOp<mixer::DenseOp>();
    if (!dense)
      return rewriter.notifyMatchFailure(gelu, "input is not produced by mixer.dense");
    if (!dense->hasOneUse())
      return rewriter.notifyMatchFailure(gelu, "the dense layer's result has other uses");
    if (dense.getActivation() != "none" || !dense.getNorm().empty() || dense.getResidual())
      return rewriter.notifyMatchFailure(gelu, "the dense layer's epilogue is not empty");
    Type type = gelu.getResult().getType();
    auto fused = rewriter.create<mixer::DenseOp>(
        dense.getLoc(), type, type, dense.getInput(), dense.getWeight(), dense.getBias(),
        dense.getDimAttr(), ValueRange{}, Value(),
        rewriter.getStringAttr(geluActivation(gelu.getApproximation())),
        dense.getNormEpsilonAttr());
    rewriter.replaceOp(gelu, fused->getResults());
    rewriter.eraseOp(dense);
    return success();
  }
};

// --- the backward graph ------------------------------------------------------------------------

/// binary(producer(...), v) or binary(v, producer(...)) -> producer(...) with v in its optional
/// operand `Slot`, when the producer's result has no other use and the slot is empty: the
/// elementwise op runs in the producer's own pass.
template <typename BinaryOp, typename Producer, MutableOperandRange (Producer::*Slot)()>
struct FoldIntoGradProducer : OpRewritePattern<BinaryOp> {
  using OpRewritePattern<BinaryOp>::OpRewritePattern;
  LogicalResult matchAndRewrite(BinaryOp op, PatternRewriter &rewriter) const override {
    for (auto [mine, other] : {std::pair{op.getLhs(), op.getRhs()},
                               std::pair{op.getRhs(), op.getLhs()}}) {
      auto producer = mine.template getDefiningOp<Producer>();
      if (!producer || !producer->hasOneUse() || (producer.*Slot)().size() != 0 ||
          producer.getType() != other.getType())
        continue;
      rewriter.modifyOpInPlace(producer, [&] { (producer.*Slot)().assign(other); });
      rewriter.moveOpBefore(producer, op);
      rewriter.replaceOp(op, producer.getResult());
      return success();
    }
    return rewriter.notifyMatchFailure(op, [](Diagnostic &d) {
      d << "no operand is a single-use " << Producer::getOperationName();
    });
  }
};

/// add(r, layer_norm_grad(...)) -> layer_norm_grad(...) residual r: the residual branch's gradient
/// is summed in the layer-norm gradient's pass.
using FuseGradSum = FoldIntoGradProducer<mixer::AddOp, mixer::LayerNormGradOp,
                                         &mixer::LayerNormGradOp::getResidualMutable>;
/// mul(dense_grad_input(...), d) -> dense_grad_input(...) scale d: an activation's backward
/// multiply runs in the transposed GEMM's epilogue.
using FuseGradScale = FoldIntoGradProducer<mixer::MulOp, mixer::DenseGradInputOp,
                                           &mixer::DenseGradInputOp::getScaleMutable>;

struct FuseElementwisePass : mixer::impl::MixerFuseElementwiseBase<FuseElementwisePass> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    patterns.add<FuseActivation<mixer::GeluOp>, FuseActivation<mixer::ReluOp>, FuseBatchNorm,
                 FuseResidual, FuseActivationTrain, FuseGradSum, FuseGradScale>(&getContext());
    if (failed(applyPatternsAndFoldGreedily(getOperation(), std::move(patterns))))
      return signalPassFailure();
  }
};

} // namespace

std::unique_ptr<Pass> mixer::createFuseElementwisePass() {
  return std::make_unique<FuseElementwisePass>();
}
