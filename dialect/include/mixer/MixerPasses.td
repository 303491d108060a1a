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
  let summary = "Fuse activations, inference BatchNorms and residual adds into their producers";
  let description = [{
    For any op with an epilogue (dense, patch_embed, depthwise_conv2d) whose result has no other
    use: `gelu(op(x))` / `relu(op(x))` become `op(x) {activation = ...}`, `batch_norm(op(x))`
    becomes `op(x) norm(gamma, beta, mean, variance)` and `add(op(x), r)` becomes
    `op(x) residual r`, in that order only (the epilogue is residual + norm(act(linear))). Each fused
    op lowers to one kernel that applies bias, activation, BatchNorm and residual while the tile is
    in registers, so an MLP block or a ConvMixer block makes one pass over memory per linear op.
    Layer norms stay separate: they are memory-bound and cheap, and fusing one into the following
    GEMM would recompute it for every column panel.
  }];
  let constructor = "::mixer::createFuseElementwisePass()";
}

#endif // MIXER_PASSES
