//===- MixerPasses.td - mixer dialect passes --------------------------------===//
#ifndef MIXER_PASSES
#define MIXER_PASSES

include "mlir/Pass/PassBase.td"

def MixerInferShapes : Pass<"mixer-infer-shapes", "::mlir::func::FuncOp"> {
  let summary = "Refine unranked results of mixer ops to their static shapes";
  let description = [{
    Walks the function in program order and asks every op to infer its result shape from its
    operands, then updates the function's result types. Fails, with the op's diagnostic, when
    operand shapes disagree (a weight with the wrong fan-in, an image not divisible by the patch).
  }];
  let constructor = "::mixer::createInferShapesPass()";
}

def MixerFuseElementwise : Pass<"mixer-fuse-elementwise", "::mlir::func::FuncOp"> {
  let summary = "Fuse GELU and residual adds into the dense layers that produce their input";
  let description = [{
    `gelu(dense(x))` becomes `dense(x) {activation = "gelu_*"}` and `add(dense(x), r)` becomes
    `dense(x) residual r`, when the dense result has no other use. Each fused dense lowers to one
    GEMM kernel whose epilogue applies the bias, the activation and the residual while the tile is in
    registers, so the MLP blocks make one pass over memory per GEMM. Layer norms stay separate: they
    are memory-bound and cheap, and fusing one into the following GEMM would recompute it for every
    column panel.
  }];
  let constructor = "::mixer::createFuseElementwisePass()";
}

#endif // MIXER_PASSES
