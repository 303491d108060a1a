// Dispatch from a kernel signature to its family, and buffer pinning shared by the families.
#include "kernels/Kernels.h"

namespace mixerc {

void pinDim(Halide::OutputImageParam buffer, int d, int64_t extent, int64_t stride) {
  buffer.dim(d).set_min(0).set_stride(int(stride));
  if (extent > 0)
    buffer.dim(d).set_extent(int(extent));
}

VectorMachine vectorMachine(const Halide::Target &target) {
  return {target.natural_vector_size<float>(),
          target.has_feature(Halide::Target::AVX512) ? 32 : 16};
}

BuiltKernel buildKernel(const KernelSignature &signature, const Halide::Target &target) {
  switch (signature.op) {
  case KernelOp::DenseChannels:
  case KernelOp::DenseTokens:
  case KernelOp::PatchEmbed:
    return buildGemmKernel(signature, target);
  case KernelOp::DepthwiseConv:
    return buildDepthwiseKernel(signature, target);
  case KernelOp::LayerNorm:
    return buildLayerNormKernel(signature, target);
  case KernelOp::GlobalAvgPool:
    return buildPoolKernel(signature, target);
  case KernelOp::WeightGradChannels:
  case KernelOp::WeightGradPatches:
  case KernelOp::WeightGradTokens:
  case KernelOp::BiasGradChannels:
  case KernelOp::BiasGradTokens:
    return buildWeightGradKernel(signature, target);
  case KernelOp::BatchNormTrain:
  case KernelOp::BatchNormGrad:
  case KernelOp::DepthwiseGradInput:
  case KernelOp::DepthwiseGradWeight:
    return buildConvTrainingKernel(signature, target);
  default:
    return buildTrainingKernel(signature, target);
  }
  return buildLayerNormKernel(signature, target);
}

} // namespace mixerc
