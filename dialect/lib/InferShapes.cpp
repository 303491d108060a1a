// mixer-infer-shapes: refine unranked op results in program order (Toy chapter 4's approach).
#include "mixer/MixerOps.h"
#include "mixer/MixerPasses.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"

namespace mixer {
#define GEN_PASS_DEF_MIXERINFERSHAPES
#include "mixer/MixerPasses.h.inc"
} // namespace mixer

using namespace mlir;

namespace {

struct InferShapesPass : mixer::impl::MixerInferShapesBase<InferShapesPass> {
  void runOnOperation() override {
    func::FuncOp function = getOperation();
    WalkResult walk = function.walk([](mixer::ShapeInference op) {
      bool unranked = llvm::any_of(op->getResultTypes(),
                                   [](Type t) { return isa<UnrankedTensorType>(t); });
      if (unranked && failed(op.inferShapes()))
        return WalkResult::interrupt();
      return WalkResult::advance();
    });
    if (walk.wasInterrupted())
      return signalPassFailure();
    // The function's results follow its return values.
    Operation *terminator = function.getBody().back().getTerminator();
    function.setType(FunctionType::get(&getContext(), function.getArgumentTypes(),
                                       terminator->getOperandTypes()));
  }
};

} // namespace

std::unique_ptr<Pass> mixer::createInferShapesPass() { return std::make_unique<InferShapesPass>(); }
