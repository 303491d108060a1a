//===- MixerTrainingOps.td - the loss and the gradient ops ------------------===//
//
// The ops that mixer-generate-gradients emits: the loss, one gradient op per input of every
// forward op that has a gradient rule, and mixer.store_grad, which names the parameter a gradient
// belongs to. They are built with static result types (the pass runs after shape inference), so
// they take no part in shape inference; each verifier checks its result against its operands.
#ifndef MIXER_TRAINING_OPS
#define MIXER_TRAINING_OPS

class Mixer_GradOp<string mnemonic, list<Trait> traits = []> :
    Mixer_Op<mnemonic, !listconcat(traits, [Pure])> {
  let hasVerifier = 1;
  let assemblyFormat = "operands attr-dict `:` functional-type(operands, results)";
}

def Mixer_SoftmaxCrossEntropyOp : Mixer_GradOp<"softmax_cross_entropy"> {
  let summary = "softmax cross-entropy per image and its gradient with respect to the logits";
  let description = [{
    For logits `[N, K]` and labels `[N]` (class indices): `loss[n] = -sum_j q[n, j] log softmax(x)[n, j]`
    with the label-smoothed target `q = (1 - s) onehot(label) + s / K`, and `grad = (softmax(x) - q) / N`,
    the gradient of the batch mean. The smoothing `s` is a run-time hyper-parameter (the train
    step's options), so one kernel serves every recipe. Loss and gradient come from one pass.

    ```mlir
    %loss, %dlogits = mixer.softmax_cross_entropy %logits, %labels
        : (tensor<?x10xf32>, tensor<?xi32>) -> (tensor<?xf32>, tensor<?x10xf32>)
    ```
  }];
  let arguments = (ins F32RankedTensor:$logits, RankedTensorOf<[I32]>:$labels);
  let results = (outs F32RankedTensor:$loss, F32RankedTensor:$grad);
}

def Mixer_DenseGradInputOp : Mixer_GradOp<"dense_grad_input"> {
  let summary = "gradient of mixer.dense with respect to its input";
  let description = [{
    `dx[..., i, ...] = sum_o weight[o, i] * dy[..., o, ...]` along `dim`: the transposed layer.
    (Folding the following gelu_grad into this GEMM's epilogue was measured slower on Zen 4:
    erf and exp per element cost more than the separate memory-bound pass; see GemmSchedule.cpp.)
  }];
  let arguments = (ins F32RankedTensor:$grad, F32RankedTensor:$weight, I64Attr:$dim);
  let results = (outs F32RankedTensor:$result);
}

def Mixer_DenseGradWeightOp : Mixer_GradOp<"dense_grad_weight"> {
  let summary = "gradient of mixer.dense with respect to its weight";
  let description = [{
    `dweight[o, i] = sum over every other index of dy[..., o, ...] * x[..., i, ...]` along `dim`,
    shaped as the weight (`[out, in]`, or `[out, in, 1, 1]` for a pointwise convolution).
  }];
  let arguments = (ins F32RankedTensor:$input, F32RankedTensor:$grad, I64Attr:$dim);
  let results = (outs F32RankedTensor:$result);
}

def Mixer_BiasGradOp : Mixer_GradOp<"bias_grad"> {
  let summary = "sum of a gradient over every dimension but `dim`: a bias's gradient";
  let arguments = (ins F32RankedTensor:$grad, I64Attr:$dim);
  let results = (outs F32RankedTensor:$result);
}

def Mixer_PatchEmbedGradWeightOp : Mixer_GradOp<"patch_embed_grad_weight"> {
  let summary = "gradient of mixer.patch_embed with respect to its weight";
  let description = [{
    `dweight[c, ci, y, x] = sum_{n, s} dy[n, s, c] * patch(n, s)[ci, y, x]`, the weight-gradient
    GEMM over the image's patches (the image itself needs no gradient).
  }];
  let arguments = (ins F32RankedTensor:$image, F32RankedTensor:$grad);
  let results = (outs F32RankedTensor:$result);
}

def Mixer_LayerNormGradOp : Mixer_GradOp<"layer_norm_grad"> {
  let summary = "gradient of mixer.layer_norm with respect to its input";
  let description = [{
    With `xhat = (x - mean) * rstd` and `g = gamma * dy` per row:
    `dx = rstd * (g - mean(g) - xhat * mean(g * xhat))`. Mean and rstd are recomputed from `x`.
    With `residual`, adds it: the residual branch's gradient summed in (mixer-fuse-elementwise
    folds the mixer.add of the two gradients into it).
  }];
  let arguments = (ins F32RankedTensor:$input, F32RankedTensor:$gamma, F32RankedTensor:$grad,
                   F64Attr:$epsilon, Optional<F32RankedTensor>:$residual);
  let results = (outs F32RankedTensor:$result);
}

def Mixer_LayerNormParamGradOp : Mixer_GradOp<"layer_norm_param_grad"> {
  let summary = "gradients of mixer.layer_norm with respect to gamma and beta";
  let description = [{
    `dgamma = sum over rows of dy * xhat`, `dbeta = sum over rows of dy`.
  }];
  let arguments = (ins F32RankedTensor:$input, F32RankedTensor:$grad, F64Attr:$epsilon);
  let results = (outs F32RankedTensor:$gamma_grad, F32RankedTensor:$beta_grad);
}

def Mixer_GeluGradOp : Mixer_GradOp<"gelu_grad"> {
  let summary = "gradient of mixer.gelu: dy * gelu'(x)";
  let arguments = (ins F32RankedTensor:$input, F32RankedTensor:$grad,
                   DefaultValuedAttr<StrAttr, "\"erf\"">:$approximation);
  let results = (outs F32RankedTensor:$result);
}

def Mixer_GlobalAvgPoolGradOp : Mixer_GradOp<"global_avg_pool_grad"> {
  let summary = "gradient of mixer.global_avg_pool: dy / count, broadcast over the pooled dims";
  let arguments = (ins F32RankedTensor:$grad);
  let results = (outs F32RankedTensor:$result);
}

def Mixer_StoreGradOp : Mixer_Op<"store_grad"> {
  let summary = "names the parameter a gradient belongs to";
  let description = [{
    The training step's output: `grad` is the loss's gradient with respect to `param` (same shape).
    The lowering has the op that computes `grad` write it straight into the parameter's gradient
    buffer, which the optimizer kernel reads.

    ```mlir
    mixer.store_grad %w, %dw : tensor<128x512xf32>, tensor<128x512xf32>
    ```
  }];
  let arguments = (ins F32RankedTensor:$param, F32RankedTensor:$grad);
  let assemblyFormat = "$param `,` $grad attr-dict `:` type($param) `,` type($grad)";
  let hasVerifier = 1;
}

#endif // MIXER_TRAINING_OPS
