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

    In the backward graph (mixer-generate-gradients), `add(r, layer_norm_grad(...))` becomes
    `layer_norm_grad(...)` with `residual r`: the two branches' gradients are summed in one pass.
    GELU gradients stay separate: folded into the backward GEMM's epilogue (erf and exp per
    element) they measured slower than their own memory-bound pass.
  }];
  let constructor = "::mixer::createFuseElementwisePass()";
}

def MixerGenerateGradients : Pass<"mixer-generate-gradients", "::mlir::ModuleOp"> {
  let summary = "Differentiate each model function into a training function";
  let description = [{
    For every function `@F` returning logits, emits `@F_train(images, labels) -> loss` (marked
    `mixer.train`): a copy of the forward graph, `mixer.softmax_cross_entropy` on its logits, and
    the backward graph in reverse order, built from one gradient rule per forward op (dense,
    patch_embed, layer_norm, gelu, relu, add, global_avg_pool, depthwise_conv2d, and batch_norm,
    which training turns into mixer.batch_norm_train: batch statistics, running-statistics
    update), ending in one `mixer.store_grad` per trainable parameter. Gradients meeting at a value are summed with `mixer.add`. Runs on shape-inferred,
    unfused graphs; mixer-fuse-elementwise then fuses the forward half as it would for inference
    (a dense whose output the backward pass also reads keeps its activation separate).
  }];
  let constructor = "::mixer::createGenerateGradientsPass()";
}

#endif // MIXER_PASSES
