// The kernel plan: what the dialect lowers to and what the library emitter consumes. Plain data,
// no MLIR and no Halide, so the two halves of the compiler (MLIR and Halide) meet only here.
#ifndef MIXERC_LOWER_KERNELPLAN_H
#define MIXERC_LOWER_KERNELPLAN_H

#include <cstdint>
#include <string>
#include <vector>

namespace mixerc {

enum class KernelOp {
  LayerNorm,
  DenseChannels,
  DenseTokens,
  PatchEmbed,
  DepthwiseConv,
  GlobalAvgPool,
  // Training (kernels/TrainingKernels.cpp, kernels/WeightGradKernel.cpp).
  WeightGradChannels, ///< dW[n][k] = sum_rows dy[row][n] x[row][k]
  WeightGradPatches,  ///< the same over the image's patches (the patch embedding's weight)
  WeightGradTokens,   ///< dW[m][k] = sum_{b,c} dy[b][m][c] x[b][k][c]
  BiasGradChannels,   ///< db[n] = sum_rows dy[row][n]
  BiasGradTokens,     ///< db[m] = sum_{b,c} dy[b][m][c]
  LayerNormGrad,
  LayerNormParamGrad,
  Activation,      ///< a standalone activation
  ActivationTrain, ///< act(x) and act'(x) (two outputs), the backward pass's saved derivative
  ActivationGrad,  ///< dy * act'(x)
  Add,
  Mul,
  GlobalAvgPoolGrad,
  SoftmaxCrossEntropy,
  BatchNormTrain, ///< batch statistics, normalised output, running statistics updated in place
  BatchNormGrad,
  DepthwiseGradInput,
  DepthwiseGradWeight,
  AdamW,
  SgdMomentum,
  Pack ///< a weight [n][k] (or its transpose) into zero-padded column panels (PlanPack)
};
enum class Activation { None, GeluErf, GeluTanh, Relu };

/// Lengths of the run-time hyper-parameter vectors of the training kernels; the runtime fills
/// them in the order kernels/TrainingKernels.cpp documents (runtime/src/train.cpp).
inline constexpr int64_t kLossHyperParameters = 1; ///< label smoothing
inline constexpr int64_t kAdamWHyperParameters = 7;
inline constexpr int64_t kSgdHyperParameters = 3;

/// What identifies a compiled kernel: two ops with equal signatures share one kernel, and the
/// tuning database keys its records by `key()`.
struct KernelSignature {
  KernelOp op = KernelOp::LayerNorm;
  /// GEMM-like ops compute out[m][n] = sum_k a[m][k] b[k][n]: for DenseTokens m is the static
  /// output token count; for DenseChannels and PatchEmbed the rows are batch x rows_per_image.
  int64_t n = 0, m = 0, k = 0;
  int64_t rows_per_image = 0;
  int64_t panel = 0; ///< width of the packed weight panels (DenseChannels, PatchEmbed)
  // The epilogue of GEMM-like ops and DepthwiseConv: residual + norm(act(acc + bias)).
  Activation activation = Activation::None;
  bool norm = false; ///< inference BatchNorm over the output channels (the innermost dimension)
  double norm_epsilon = 0;
  bool residual = false;
  /// Backward GEMMs (DenseChannels, DenseTokens without bias): the result times a tensor shaped
  /// as the output, an activation's saved derivative.
  bool scale = false;
  /// Forward GEMMs of a training step (DenseChannels, DenseTokens): a second output, the
  /// activation's derivative at the pre-activation, which the backward pass multiplies by.
  bool derivative = false;
  /// LayerNormGrad: also the gamma and beta gradients (two more outputs) in the same pass.
  bool param_grads = false;
  double epsilon = 0;  ///< LayerNorm, BatchNormTrain, BatchNormGrad
  double momentum = 0; ///< BatchNormTrain's running statistics
  /// PatchEmbed: the image; DepthwiseConv: n is the channels, the grid image_height x image_width.
  int64_t image_channels = 0, image_height = 0, image_width = 0, patch = 0;
  int64_t kernel_size = 0; ///< DepthwiseConv
  bool bias = true; ///< GEMM-like ops: false for the transposed products of the backward pass
  bool transposed = false; ///< Pack: of the weight's transpose

  std::string key() const;
  std::string opName() const;
  /// Multiply-adds x 2 of one call per image (0 for LayerNorm and pooling, which are memory-bound).
  double flopsPerImage() const;
};

/// Grad: a parameter's gradient (index: the parameter); Labels: the train step's int32 labels;
/// Hyper: the run-time hyper-parameters of a training kernel (label smoothing, learning rate...).
enum class SlotKind { Param, Packed, Input, Output, Activation, Grad, Labels, Hyper };

struct BufferDim {
  int64_t extent;
  int64_t stride;
  bool batch_scaled; ///< extent is per image; times the batch at run time
};

struct KernelArg {
  SlotKind kind;
  int index;
  std::vector<BufferDim> dims; ///< innermost first (Halide order)
};

struct PlanStep {
  int kernel;
  std::string label;
  std::vector<KernelArg> args; ///< inputs, then the output
};

struct PlanParam {
  std::string name;
  std::vector<int64_t> shape;
  std::string init;
  double std = 0;
  int64_t fan_in = 0, fan_out = 0;
  bool counter = false; ///< an i64 counter (BatchNorm's num_batches_tracked), not f32 weights
  bool trainable = false; ///< the training function stores a gradient for it
  /// State, not a parameter (BatchNorm's running statistics and counter): PyTorch's buffers,
  /// which NAME_info's num_parameters leaves out as model.parameters() does.
  bool buffer = false;
};

struct PlanPack {
  int param;
  int64_t panel;
  /// Packs W's transpose (as [K...][N]): the weight of the backward GEMM dx = dy W.
  bool transposed = false;
  int kernel = -1; ///< the Pack kernel that lays it out
};

struct KernelPlan {
  std::string name, family;
  std::vector<PlanParam> params;
  std::vector<PlanPack> packs;
  std::vector<int64_t> activation_elems; ///< per image, one per activation slot
  std::vector<KernelSignature> kernels;
  /// Per kernel, its schedule record ("" for the family's default template): what
  /// mixerc compile --tuning-db chose (tuning/ApplyTuning.h).
  std::vector<std::string> schedules;
  std::vector<PlanStep> steps;
  int64_t image_channels = 0, image_height = 0, image_width = 0, classes = 0;
  double flops_per_image = 0;
  int64_t images_per_chunk = 0; ///< see ModelDesc::images_per_chunk; 0: never chunk

  /// Training (spec `training = true`): forward, loss and backward as one step sequence with its
  /// own activation slots, and the fused optimizer kernels over the trainable parameters.
  bool training = false;
  std::vector<int64_t> train_activation_elems;
  std::vector<PlanStep> train_steps;
  int adamw_kernel = -1, sgd_kernel = -1;

  const std::string &scheduleOf(size_t kernel) const {
    static const std::string none;
    return kernel < schedules.size() ? schedules[kernel] : none;
  }

  /// A readable listing of kernels, steps and buffers (mixerc compile --emit plan).
  std::string str() const;
};

} // namespace mixerc

#endif
