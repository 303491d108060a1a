// mixer-fuse-elementwise: fold activations, inference BatchNorms and residual adds into the op that
// produces their input (any EpilogueOpInterface op: dense, patch_embed, depthwise_conv2d). The
// epilogue order is fixed, residual + norm(act(linear)), so each pattern only fires when the parts
// after it are still empty: folding never reorders the computation. In a training function it also
// folds GELU's training form (value and derivative) into the dense layer that feeds it, the
// residual gradient sums and the parameter gradients into the layer-norm gradients, and the
// activations' backward multiplies into the transposed GEMMs that produce their gradient.
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

/// Whether `v` is available at `op`: a block argument, or defined earlier in `op`'s block.
bool definedBefore(Value v, Operation *op) {
  Operation *def = v.getDefiningOp();
  return !def || (def->getBlock() == op->getBlock() && def->isBeforeInBlock(op));
}

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
/// elementwise op runs in the producer's own pass. The producer moves down to the binary op when
/// v is defined after it, unless it has other results (a layer-norm gradient's parameter
/// gradients), whose uses may come before.
template <typename BinaryOp, typename Producer, MutableOperandRange (Producer::*Slot)()>
struct FoldIntoGradProducer : OpRewritePattern<BinaryOp> {
  using OpRewritePattern<BinaryOp>::OpRewritePattern;
  LogicalResult matchAndRewrite(BinaryOp op, PatternRewriter &rewriter) const override {
    for (auto [mine, other] : {std::pair{op.getLhs(), op.getRhs()},
                               std::pair{op.getRhs(), op.getLhs()}}) {
      auto producer = mine.template getDefiningOp<Producer>();
      if (!producer || !producer.getResult().hasOneUse() || (producer.*Slot)().size() != 0 ||
          producer.getResult().getType() != other.getType())
        continue;
      const bool available = definedBefore(other, producer);
      if (!available && producer->getNumResults() > 1)
        continue;
      rewriter.modifyOpInPlace(producer, [&] { (producer.*Slot)().assign(other); });
      if (!available)
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

/// layer_norm_param_grad(x, dy) next to a layer_norm_grad(x, gamma, dy) of the same x, dy and
/// epsilon -> one layer_norm_grad that also returns the parameter gradients: one pass over x and
/// dy instead of two. The fused op takes the earlier op's place, where the later one's operands
/// must already be defined (a residual summed in may come later).
struct FuseLayerNormParamGrad : OpRewritePattern<mixer::LayerNormParamGradOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(mixer::LayerNormParamGradOp params,
                                PatternRewriter &rewriter) const override {
    // The earlier of the two ops, where the fused one goes, or null if the later one's operands
    // are not all defined there.
    auto placeFor = [&](mixer::LayerNormGradOp grad) -> Operation * {
      Operation *earlier = grad->isBeforeInBlock(params) ? grad.getOperation() : params;
      Operation *later = earlier == params ? grad.getOperation() : params.getOperation();
      for (Value operand : later->getOperands())
        if (!definedBefore(operand, earlier))
          return nullptr;
      return earlier;
    };
    mixer::LayerNormGradOp grad;
    Operation *earlier = nullptr;
    for (Operation *user : params.getInput().getUsers()) {
      auto candidate = dyn_cast<mixer::LayerNormGradOp>(user);
      if (candidate && candidate.getInput() == params.getInput() &&
          candidate.getGrad() == params.getGrad() &&
          candidate.getEpsilon() == params.getEpsilon() && candidate.getParamGrads().empty() &&
          candidate->getBlock() == params->getBlock() && (earlier = placeFor(candidate))) {
        grad = candidate;
        break;
      }
    }
    if (!grad)
      return rewriter.notifyMatchFailure(
          params, "no layer_norm_grad of the same input, grad and epsilon whose operands are all "
                  "defined before the earlier of the two");
    rewriter.setInsertionPoint(earlier);
    auto fused = rewriter.create<mixer::LayerNormGradOp>(
        grad.getLoc(), grad.getResult().getType(),
        TypeRange{params.getGammaGrad().getType(), params.getBetaGrad().getType()},
        grad.getInput(), grad.getGamma(), grad.getGrad(), grad.getEpsilonAttr(),
        grad.getResidual());
    rewriter.replaceOp(grad, fused.getResult());
    rewriter.replaceOp(params, fused.getParamGrads());
    return success();
  }
};

struct FuseElementwisePass : mixer::impl::MixerFuseElementwiseBase<FuseElementwisePass> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    patterns.add<FuseActivation<mixer::GeluOp>, FuseActivation<mixer::ReluOp>, FuseBatchNorm,
                 FuseResidual, FuseActivationTrain, FuseGradSum, FuseGradScale,
                 FuseLayerNormParamGrad>(&getContext());
    if (failed(applyPatternsAndFoldGreedily(getOperation(), std::move(patterns))))
      return signalPassFailure();
  }
};

} // namespace

std::unique_ptr<Pass> mixer::createFuseElementwisePass() {
  return std::make_unique<FuseElementwisePass>();
}
