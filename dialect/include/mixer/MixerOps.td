//===- MixerOps.td - mixer dialect operations -------------------------------===//
#ifndef MIXER_OPS
#define MIXER_OPS

include "mixer/MixerDialect.td"
include "mixer/MixerInterfaces.td"
include "mlir/Interfaces/SideEffectInterfaces.td"


def F32RankedTensor : RankedTensorOf<[F32]>;

class Mixer_ShapedOp<string mnemonic, list<Trait> traits = []> :
    Mixer_Op<mnemonic, !listconcat(traits,
        [Pure, DeclareOpInterfaceMethods<ShapeInferenceOpInterface>])> {
  let hasVerifier = 1;
}

def Mixer_ParamOp : Mixer_Op<"param", [Pure]> {
  let summary = "a named, trainable model parameter";
  let description = [{
    A model parameter, named as in timm's `state_dict`, with the initialiser that the family's
    reference code applies (`zeros`, `ones`, `xavier_uniform`, `lecun_normal`, `normal` with
    `std`, `uniform_fan_in`: U(-1/sqrt(fan_in), 1/sqrt(fan_in)), PyTorch's nn.Linear default).
    `fan_in` overrides the fan-in derived from the shape, as a bias needs its layer's.

    ```mlir
    %w = mixer.param "stem.proj.weight" {init = "lecun_normal"} : tensor<512x3x16x16xf32>
    ```
  }];
  let arguments = (ins StrAttr:$name, StrAttr:$init, OptionalAttr<F64Attr>:$std,
                   OptionalAttr<I64Attr>:$fan_in);
  let results = (outs F32RankedTensor:$result);
  let assemblyFormat = "$name attr-dict `:` type($result)";
  let hasVerifier = 1;
}

def Mixer_PatchEmbedOp : Mixer_ShapedOp<"patch_embed"> {
  let summary = "non-overlapping patch embedding (a p x p convolution with stride p)";
  let description = [{
    Cuts each image of `tensor<NxCxHxW>` into (H/p)(W/p) patches of p x p pixels, row-major, and
    maps each to `hidden` features: `out[n, s, c] = bias[c] + sum weight[c, ci, y, x] * patch`.
    The patch size p is the weight's kernel size.

    ```mlir
    %x = mixer.patch_embed %img, %w, %b
        : (tensor<?x3x224x224xf32>, tensor<512x3x16x16xf32>, tensor<512xf32>) -> tensor<?x196x512xf32>
    ```
  }];
  let arguments = (ins F32RankedTensor:$image, F32RankedTensor:$weight, F32RankedTensor:$bias);
  let results = (outs F32Tensor:$result);
  let assemblyFormat = "$image `,` $weight `,` $bias attr-dict `:` functional-type(operands, results)";
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

def Mixer_DenseOp : Mixer_ShapedOp<"dense"> {
  let summary = "a linear layer along one dimension, with fused activation and residual";
  let description = [{
    `nn.Linear` applied along dimension `dim` of the input: with weight `[out, in]`,
    `y[..., o, ...] = bias[o] + sum_i weight[o, i] * x[..., i, ...]`. Along the last dimension it is
    channel mixing; along dimension 1 of a `[N, S, C]` tensor it is token mixing, with no transpose.
    The fusion pass folds a following GELU into `activation` (`none`, `gelu_erf`, `gelu_tanh`) and a
    following residual add into the optional `residual` operand: `act(y) + residual`.

    ```mlir
    %h = mixer.dense %x, %w1, %b1 {dim = 1 : i64, activation = "gelu_erf"}
        : (tensor<?x196x512xf32>, tensor<256x196xf32>, tensor<256xf32>) -> tensor<?x256x512xf32>
    %y = mixer.dense %h, %w2, %b2 residual %x {dim = 1 : i64}
        : (tensor<?x256x512xf32>, tensor<196x256xf32>, tensor<196xf32>, tensor<?x196x512xf32>)
          -> tensor<?x196x512xf32>
    ```
  }];
  let arguments = (ins F32Tensor:$input, F32RankedTensor:$weight, F32RankedTensor:$bias,
                   Optional<F32Tensor>:$residual, I64Attr:$dim,
                   DefaultValuedAttr<StrAttr, "\"none\"">:$activation);
  let results = (outs F32Tensor:$result);
  let assemblyFormat = [{
    $input `,` $weight `,` $bias (`residual` $residual^)? attr-dict `:` functional-type(operands, results)
  }];
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
  let summary = "mean over one dimension, which is removed";
  let description = [{
    The global average pool over tokens of MLP-Mixer (`dim = 1` of `[N, S, C]`).

    ```mlir
    %p = mixer.global_avg_pool %x {dim = 1 : i64} : (tensor<?x196x512xf32>) -> tensor<?x512xf32>
    ```
  }];
  let arguments = (ins F32Tensor:$input, I64Attr:$dim);
  let results = (outs F32Tensor:$result);
  let assemblyFormat = "$input attr-dict `:` functional-type(operands, results)";
}

#endif // MIXER_OPS
