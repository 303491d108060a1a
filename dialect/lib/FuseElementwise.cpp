// mixer-fuse-elementwise: fold GELU and residual adds into the dense layer that feeds them.
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

/// gelu(dense(x)) -> dense(x) {activation = gelu_*}
struct FuseGeluIntoDense : OpRewritePattern<mixer::GeluOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(mixer::GeluOp gelu, PatternRewriter &rewriter) const override {
    auto dense = gelu.getInput().getDefiningOp<mixer::DenseOp>();
    if (!dense)
      return rewriter.notifyMatchFailure(gelu, "input is not produced by a dense op");
    if (!dense->hasOneUse())
      return rewriter.notifyMatchFailure(gelu, "the dense result has other uses");
    if (dense.getActivation() != "none" || dense.getResidual())
      return rewriter.notifyMatchFailure(gelu, "the dense op already has an epilogue");
    rewriter.modifyOpInPlace(dense, [&] {
      dense.setActivation(gelu.getApproximation() == "tanh" ? "gelu_tanh" : "gelu_erf");
    });
    rewriter.replaceOp(gelu, dense.getResult());
    return success();
  }
};

/// add(dense(x), r) or add(r, dense(x)) -> dense(x) residual r
struct FuseResidualIntoDense : OpRewritePattern<mixer::AddOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(mixer::AddOp add, PatternRewriter &rewriter) const override {
    for (auto [mine, other] : {std::pair{add.getLhs(), add.getRhs()},
                               std::pair{add.getRhs(), add.getLhs()}}) {
      auto dense = mine.getDefiningOp<mixer::DenseOp>();
      if (!dense || !dense->hasOneUse() || dense.getResidual())
        continue;
      if (dense.getType() != other.getType())
        continue;
      rewriter.modifyOpInPlace(dense, [&] { dense.getResidualMutable().assign(other); });
      // The residual may be defined after the dense op only if it is the add's own operand,
      // which dominates the add; move the dense op down to the add to keep dominance.
      rewriter.moveOpBefore(dense, add);
      rewriter.replaceOp(add, dense.getResult());
      return success();
    }
    return rewriter.notifyMatchFailure(add, "no operand is a single-use dense op without residual");
  }
};

struct FuseElementwisePass : mixer::impl::MixerFuseElementwiseBase<FuseElementwisePass> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    patterns.add<FuseGeluIntoDense, FuseResidualIntoDense>(&getContext());
    if (failed(applyPatternsAndFoldGreedily(getOperation(), std::move(patterns))))
      return signalPassFailure();
  }
};

} // namespace

std::unique_ptr<Pass> mixer::createFuseElementwisePass() {
  return std::make_unique<FuseElementwisePass>();
}
