//===- MixerOps.td - mixer dialect operations -------------------------------===//
#ifndef MIXER_OPS
#define MIXER_OPS

include "mixer/MixerDialect.td"
include "mixer/MixerInterfaces.td"
include "mlir/Interfaces/SideEffectInterfaces.td"


def F32RankedTensor : RankedTensorOf<[F32]>;

// The operands and attributes of an EpilogueOpInterface op, after its own operands.
defvar EpilogueArguments = (ins Variadic<F32RankedTensor>:$norm, Optional<F32Tensor>:$residual,
                            DefaultValuedAttr<StrAttr, "\"none\"">:$activation,
                            DefaultValuedAttr<F64Attr, "1.0e-5">:$norm_epsilon);
defvar EpilogueFormat = [{
  (`norm` `(` $norm^ `)`)? (`residual` $residual^)? attr-dict `:` functional-type(operands, results)
}];

class Mixer_ShapedOp<string mnemonic, list<Trait> traits = []> :
    Mixer_Op<mnemonic, !listconcat(traits,
        [Pure, DeclareOpInterfaceMethods<ShapeInferenceOpInterface>])> {
  let hasVerifier = 1;
}

// Not Pure: a parameter is model state, loaded and saved even when no kernel reads it (BatchNorm's
// num_batches_tracked), so no dead-code elimination may drop it.
def Mixer_ParamOp : Mixer_Op<"param"> {
  let summary = "a named, trainable model parameter";
  let description = [{
    A model parameter, named as in timm's `state_dict`, with the initialiser that the family's
    reference code applies (`zeros`, `ones`, `xavier_uniform`, `lecun_normal`, `normal` with
    `std`, `uniform_fan_in`: U(-1/sqrt(fan_in), 1/sqrt(fan_in)), PyTorch's nn.Linear default).
    `fan_in` overrides the fan-in derived from the shape, as a bias needs its layer's. A parameter
    is f32, or i64 for counters (BatchNorm's `num_batches_tracked`, initialised to zeros).

    ```mlir
    %w = mixer.param "stem.proj.weight" {init = "lecun_normal"} : tensor<512x3x16x16xf32>
    ```
  }];
  let arguments = (ins StrAttr:$name, StrAttr:$init, OptionalAttr<F64Attr>:$std,
                   OptionalAttr<I64Attr>:$fan_in);
  let results = (outs RankedTensorOf<[F32, I64]>:$result);
  let assemblyFormat = "$name attr-dict `:` type($result)";
  let hasVerifier = 1;
}

def Mixer_PatchEmbedOp : Mixer_ShapedOp<"patch_embed",
    [AttrSizedOperandSegments, EpilogueOpInterface]> {
  let summary = "non-overlapping patch embedding (a p x p convolution with stride p)";
  let description = [{
    Cuts each image of `tensor<NxCxHxW>` into (H/p)(W/p) patches of p x p pixels, row-major, and
    maps each to `hidden` features: `out[n, s, c] = bias[c] + sum weight[c, ci, y, x] * patch`.
    The patch size p is the weight's kernel size. With `grid` the result keeps the patch grid,
    `Nx(H/p)x(W/p)xC` (channels last), as ConvMixer's stem; the memory layout is the same. Takes a
    fused epilogue (EpilogueOpInterface).

    ```mlir
    %x = mixer.patch_embed %img, %w, %b
        : (tensor<?x3x224x224xf32>, tensor<512x3x16x16xf32>, tensor<512xf32>) -> tensor<?x196x512xf32>
    %g = mixer.patch_embed %img, %w, %b norm(%gamma, %beta, %mean, %var) {grid, activation = "relu"}
        : (...) -> tensor<?x32x32x768xf32>
    ```
  }];
  let arguments = !con((ins F32RankedTensor:$image, F32RankedTensor:$weight,
                            F32RankedTensor:$bias, UnitAttr:$grid), EpilogueArguments);
  let results = (outs F32Tensor:$result);
  let assemblyFormat = !strconcat("$image `,` $weight `,` $bias ", EpilogueFormat);
}

def Mixer_DepthwiseConv2dOp : Mixer_ShapedOp<"depthwise_conv2d",
    [AttrSizedOperandSegments, EpilogueOpInterface]> {
  let summary = "depthwise k x k convolution with 'same' zero padding, channels last";
  let description = [{
    `out[n, y, x, c] = bias[c] + sum_{i,j} weight[c, 0, i, j] * in[n, y + i - a, x + j - a, c]`
    with `a = (k - 1) / 2` and zeros outside the image: PyTorch's `Conv2d(C, C, k, groups=C,
    padding="same")` on an `NxHxWxC` tensor (for even k the extra padding is after, as PyTorch).
    Takes a fused epilogue (EpilogueOpInterface): ConvMixer's residual(conv -> act -> BN) is one op.

    ```mlir
    %y = mixer.depthwise_conv2d %x, %w, %b norm(%g, %be, %m, %v) residual %x {activation = "gelu_erf"}
        : (tensor<?x32x32x768xf32>, tensor<768x1x7x7xf32>, tensor<768xf32>, tensor<768xf32>,
           tensor<768xf32>, tensor<768xf32>, tensor<768xf32>, tensor<?x32x32x768xf32>)
          -> tensor<?x32x32x768xf32>
    ```
  }];
  let arguments = !con((ins F32Tensor:$input, F32RankedTensor:$weight, F32RankedTensor:$bias),
                       EpilogueArguments);
  let results = (outs F32Tensor:$result);
  let assemblyFormat = !strconcat("$input `,` $weight `,` $bias ", EpilogueFormat);
}

def Mixer_BatchNormOp : Mixer_ShapedOp<"batch_norm"> {
  let summary = "inference batch normalisation over the last dimension (running statistics)";
  let description = [{
    `(x - mean) / sqrt(var + epsilon) * gamma + beta` per channel (the last dimension), with the
    running statistics: `torch.nn.BatchNorm2d` in eval mode on a channels-last tensor.

    ```mlir
    %y = mixer.batch_norm %x, %gamma, %beta, %mean, %var {epsilon = 1.0e-05 : f64}
        : (tensor<?x32x32x768xf32>, tensor<768xf32>, tensor<768xf32>, tensor<768xf32>,
           tensor<768xf32>) -> tensor<?x32x32x768xf32>
    ```
  }];
  let arguments = (ins F32Tensor:$input, F32RankedTensor:$gamma, F32RankedTensor:$beta,
                   F32RankedTensor:$mean, F32RankedTensor:$variance,
                   DefaultValuedAttr<F64Attr, "1.0e-5">:$epsilon);
  let results = (outs F32Tensor:$result);
  let assemblyFormat = [{
    $input `,` $gamma `,` $beta `,` $mean `,` $variance attr-dict `:` functional-type(operands, results)
  }];
}

def Mixer_LayerNormOp : Mixer_ShapedOp<"layer_norm"> {
  let summary = "layer normalisation over the last dimension";
  let description = [{
    `(x - mean) / sqrt(var + epsilon) * gamma + beta` over the innermost dimension (channels),
    with the biased variance, as `torch.nn.LayerNorm` computes it.

    ```mlir
    %y = mixer.layer_norm %x, %g, %b {epsilon = 1.0e-06 : f64}
        : (tensor<?x196x512xf32>, tensor<512xf32>, tensor<512xf32>) -> tensor<?x196x512xf32>
    ```
  }];
  let arguments = (ins F32Tensor:$input, F32RankedTensor:$gamma, F32RankedTensor:$beta,
                   DefaultValuedAttr<F64Attr, "1.0e-6">:$epsilon);
  let results = (outs F32Tensor:$result);
  let assemblyFormat = "$input `,` $gamma `,` $beta attr-dict `:` functional-type(operands, results)";
}

def Mixer_DenseOp : Mixer_ShapedOp<"dense", [AttrSizedOperandSegments, EpilogueOpInterface]> {
  let summary = "a linear layer along one dimension, with fused activation and residual";
  let description = [{
    `nn.Linear` applied along dimension `dim` of the input: with weight `[out, in]`,
    `y[..., o, ...] = bias[o] + sum_i weight[o, i] * x[..., i, ...]`. Along the last dimension it is
    channel mixing; along dimension 1 of a `[N, S, C]` tensor it is token mixing, with no transpose.
    Along the last dimension the weight may also be a 1x1 convolution's `[out, in, 1, 1]`: ConvMixer's
    pointwise convolution on a channels-last tensor. The fusion pass folds the following activation,
    BatchNorm and residual add into the epilogue (EpilogueOpInterface): `norm(act(y)) + residual`.
    In a training function it also folds a following `mixer.gelu_train`: the op then returns, as
    `derivative`, the activation's derivative at `y`, which the backward pass multiplies by; the
    GEMM's epilogue computes both while `y` is in registers, instead of a pass over `y`.

    ```mlir
    %h = mixer.dense %x, %w1, %b1 {dim = 1 : i64, activation = "gelu_erf"}
        : (tensor<?x196x512xf32>, tensor<256x196xf32>, tensor<256xf32>) -> tensor<?x256x512xf32>
    %y = mixer.dense %h, %w2, %b2 residual %x {dim = 1 : i64}
        : (tensor<?x256x512xf32>, tensor<196x256xf32>, tensor<196xf32>, tensor<?x196x512xf32>)
          -> tensor<?x196x512xf32>
    %g, %dg = mixer.dense %x, %w1, %b1 {dim = 2 : i64, activation = "gelu_erf"}
        : (tensor<?x196x512xf32>, tensor<2048x512xf32>, tensor<2048xf32>)
          -> (tensor<?x196x2048xf32>, tensor<?x196x2048xf32>)
    ```
  }];
  let arguments = !con((ins F32Tensor:$input, F32RankedTensor:$weight, F32RankedTensor:$bias,
                            I64Attr:$dim), EpilogueArguments);
  let results = (outs F32Tensor:$result, Optional<F32Tensor>:$derivative);
  let assemblyFormat = !strconcat("$input `,` $weight `,` $bias ", EpilogueFormat);
}

def Mixer_GeluOp : Mixer_ShapedOp<"gelu"> {
  let summary = "Gaussian error linear unit";
  let description = [{
    `x * Phi(x)` with the exact `erf` form (`approximation = "erf"`, as timm and PyTorch default) or
    the tanh form that Google's Flax checkpoints were trained with (`approximation = "tanh"`).

    ```mlir
    %y = mixer.gelu %x {approximation = "erf"} : (tensor<?x256x512xf32>) -> tensor<?x256x512xf32>
    ```
  }];
  let arguments = (ins F32Tensor:$input, DefaultValuedAttr<StrAttr, "\"erf\"">:$approximation);
  let results = (outs F32Tensor:$result);
  let assemblyFormat = "$input attr-dict `:` functional-type(operands, results)";
}

def Mixer_ReluOp : Mixer_ShapedOp<"relu"> {
  let summary = "rectified linear unit, max(x, 0)";
  let description = [{
    ```mlir
    %y = mixer.relu %x : (tensor<?x32x32x768xf32>) -> tensor<?x32x32x768xf32>
    ```
  }];
  let arguments = (ins F32Tensor:$input);
  let results = (outs F32Tensor:$result);
  let assemblyFormat = "$input attr-dict `:` functional-type(operands, results)";
}

def Mixer_AddOp : Mixer_ShapedOp<"add"> {
  let summary = "elementwise sum (the residual connection)";
  let description = [{
    ```mlir
    %z = mixer.add %x, %y : (tensor<?x196x512xf32>, tensor<?x196x512xf32>) -> tensor<?x196x512xf32>
    ```
  }];
  let arguments = (ins F32Tensor:$lhs, F32Tensor:$rhs);
  let results = (outs F32Tensor:$result);
  let assemblyFormat = "$lhs `,` $rhs attr-dict `:` functional-type(operands, results)";
}

def Mixer_FlattenOp : Mixer_ShapedOp<"flatten"> {
  let summary = "flattens every dimension but the batch, in row-major order";
  let description = [{
    The first layer of B-MLP: an image batch `NxCxHxW` becomes `Nx(C*H*W)`. Row-major tensors
    make this a view: it lowers to no kernel, its result shares its input's buffer.

    ```mlir
    %x = mixer.flatten %img : (tensor<?x3x64x64xf32>) -> tensor<?x12288xf32>
    ```
  }];
  let arguments = (ins F32Tensor:$input);
  let results = (outs F32Tensor:$result);
  let assemblyFormat = "$input attr-dict `:` functional-type(operands, results)";
}

def Mixer_GlobalAvgPoolOp : Mixer_ShapedOp<"global_avg_pool"> {
  let summary = "mean over every dimension between the batch and the channels";
  let description = [{
    The global average pool: over the tokens of MLP-Mixer's `[N, S, C]`, over the grid of
    ConvMixer's channels-last `[N, H, W, C]`. The result is `[N, C]`.

    ```mlir
    %p = mixer.global_avg_pool %x : (tensor<?x196x512xf32>) -> tensor<?x512xf32>
    %q = mixer.global_avg_pool %y : (tensor<?x32x32x768xf32>) -> tensor<?x768xf32>
    ```
  }];
  let arguments = (ins F32Tensor:$input);
  let results = (outs F32Tensor:$result);
  let assemblyFormat = "$input attr-dict `:` functional-type(operands, results)";
}

include "mixer/MixerTrainingOps.td"

#endif // MIXER_OPS
