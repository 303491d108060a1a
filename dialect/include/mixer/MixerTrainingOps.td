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
    With `scale`, the product is multiplied elementwise by it: mixer-fuse-elementwise folds the
    `mixer.mul` of an activation's saved derivative (mixer.gelu_train) into this GEMM's epilogue,
    which then costs one load per element instead of a pass over the activation.
  }];
  let arguments = (ins F32RankedTensor:$grad, F32RankedTensor:$weight, I64Attr:$dim,
                   Optional<F32RankedTensor>:$scale);
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
    folds the mixer.add of the two gradients into it). With `param_grads` (none or two results),
    also returns mixer.layer_norm_param_grad's gamma and beta gradients, computed in the same pass
    over `input` and `grad` (mixer-fuse-elementwise folds that op into this one).
  }];
  let arguments = (ins F32RankedTensor:$input, F32RankedTensor:$gamma, F32RankedTensor:$grad,
                   F64Attr:$epsilon, Optional<F32RankedTensor>:$residual);
  let results = (outs F32RankedTensor:$result, Variadic<F32RankedTensor>:$param_grads);
}

def Mixer_LayerNormParamGradOp : Mixer_GradOp<"layer_norm_param_grad"> {
  let summary = "gradients of mixer.layer_norm with respect to gamma and beta";
  let description = [{
    `dgamma = sum over rows of dy * xhat`, `dbeta = sum over rows of dy`.
  }];
  let arguments = (ins F32RankedTensor:$input, F32RankedTensor:$grad, F64Attr:$epsilon);
  let results = (outs F32RankedTensor:$gamma_grad, F32RankedTensor:$beta_grad);
}

def Mixer_GeluTrainOp : Mixer_GradOp<"gelu_train"> {
  let summary = "mixer.gelu in a training function: the value and its derivative";
  let description = [{
    `result = gelu(x)` and `derivative = gelu'(x)` (`Phi(x) + x phi(x)` for erf; the tanh form's
    own derivative), computed in one pass that shares the transcendental part.
    mixer-generate-gradients puts it where the forward graph has mixer.gelu; the backward pass then
    multiplies by the saved derivative (mixer.mul) rather than keeping `x` and evaluating erf and
    exp again, a pass that was compute-bound.
  }];
  let arguments = (ins F32RankedTensor:$input,
                   DefaultValuedAttr<StrAttr, "\"erf\"">:$approximation);
  let results = (outs F32RankedTensor:$result, F32RankedTensor:$derivative);
}

def Mixer_MulOp : Mixer_GradOp<"mul"> {
  let summary = "elementwise product: a gradient times an activation's saved derivative";
  let arguments = (ins F32RankedTensor:$lhs, F32RankedTensor:$rhs);
  let results = (outs F32RankedTensor:$result);
}

def Mixer_GlobalAvgPoolGradOp : Mixer_GradOp<"global_avg_pool_grad"> {
  let summary = "gradient of mixer.global_avg_pool: dy / count, broadcast over the pooled dims";
  let arguments = (ins F32RankedTensor:$grad);
  let results = (outs F32RankedTensor:$result);
}

def Mixer_ReluGradOp : Mixer_GradOp<"relu_grad"> {
  let summary = "gradient of mixer.relu: dy where x > 0, else 0 (PyTorch's convention at 0)";
  let arguments = (ins F32RankedTensor:$input, F32RankedTensor:$grad);
  let results = (outs F32RankedTensor:$result);
}

// Not Pure: it also updates the running statistics (model state) in place.
def Mixer_BatchNormTrainOp : Mixer_Op<"batch_norm_train"> {
  let summary = "training batch normalisation over the last dimension (batch statistics)";
  let description = [{
    `torch.nn.BatchNorm2d` in training mode on a channels-last tensor: per channel (the last
    dimension) the mean and biased variance over every other dimension normalise the input,
    `y = (x - mean) * invstd * gamma + beta` with `invstd = 1 / sqrt(var + epsilon)`; `mean` and
    `invstd` are returned for the backward pass, and the running statistics are updated in place,
    `running = (1 - momentum) running + momentum batch` (the unbiased variance for running_var).
    mixer-generate-gradients puts it where the forward graph has mixer.batch_norm.
  }];
  let arguments = (ins F32RankedTensor:$input, F32RankedTensor:$gamma, F32RankedTensor:$beta,
                   F32RankedTensor:$running_mean, F32RankedTensor:$running_var,
                   F64Attr:$epsilon, F64Attr:$momentum);
  let results = (outs F32RankedTensor:$result, F32RankedTensor:$mean, F32RankedTensor:$invstd);
  let assemblyFormat = "operands attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
}

def Mixer_BatchNormGradOp : Mixer_GradOp<"batch_norm_grad"> {
  let summary = "gradients of mixer.batch_norm_train: input, gamma and beta";
  let description = [{
    With `xhat = (x - mean) * invstd` and M the elements per channel: `dbeta = sum dy`,
    `dgamma = sum dy * xhat`, `dx = gamma * invstd * (dy - dbeta / M - xhat * dgamma / M)`.
  }];
  let arguments = (ins F32RankedTensor:$input, F32RankedTensor:$gamma, F32RankedTensor:$mean,
                   F32RankedTensor:$invstd, F32RankedTensor:$grad);
  let results = (outs F32RankedTensor:$result, F32RankedTensor:$gamma_grad,
                 F32RankedTensor:$beta_grad);
}

def Mixer_DepthwiseConv2dGradInputOp : Mixer_GradOp<"depthwise_conv2d_grad_input"> {
  let summary = "gradient of mixer.depthwise_conv2d with respect to its input";
  let description = [{
    `dx[n, y, x, c] = sum_{i,j} weight[c, 0, i, j] * dy[n, y - i + a, x - j + a, c]`, zero outside
    the image: the transposed ('full'-correlation) depthwise convolution.
  }];
  let arguments = (ins F32RankedTensor:$grad, F32RankedTensor:$weight);
  let results = (outs F32RankedTensor:$result);
}

def Mixer_DepthwiseConv2dGradWeightOp : Mixer_GradOp<"depthwise_conv2d_grad_weight"> {
  let summary = "gradient of mixer.depthwise_conv2d with respect to its weight";
  let description = [{
    `dweight[c, 0, i, j] = sum_{n,y,x} dy[n, y, x, c] * in[n, y + i - a, x + j - a, c]`.
  }];
  let arguments = (ins F32RankedTensor:$input, F32RankedTensor:$grad);
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
