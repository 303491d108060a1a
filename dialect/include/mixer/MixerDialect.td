//===- MixerDialect.td - the mixer dialect ----------------------------------===//
// Model-level operations of the Mixer family of vision networks. Tensors are builtin ranked tensors
// of f32 whose leading dimension is the batch (dynamic, `?`); parameters are `mixer.param` values
// named as in timm's state_dict so that the compiled library reads and writes timm checkpoints.
//===----------------------------------------------------------------------===//
#ifndef MIXER_DIALECT
#define MIXER_DIALECT

include "mlir/IR/OpBase.td"

def Mixer_Dialect : Dialect {
  let name = "mixer";
  let summary = "Model-level operations of MLP-Mixer, ConvMixer and B-MLP networks";
  let description = [{
    The `mixer` dialect describes one network as a `func.func` from a batch of images
    (`tensor<?xCxHxWxf32>`) to logits (`tensor<?xKxf32>`). Each op is one layer-level operation
    (patch embedding, layer norm, dense, GELU, residual add, pooling). Passes infer shapes, fuse
    elementwise work into the dense layers that produce it, and lower each op to a Halide kernel.
  }];
  let cppNamespace = "::mixer";
}

class Mixer_Op<string mnemonic, list<Trait> traits = []> :
    Op<Mixer_Dialect, mnemonic, traits>;

#endif // MIXER_DIALECT
