// The description of one compiled model, as the generated glue hands it to the runtime.
//
// mixerc writes one ModelDesc per library: the parameters (timm names, shapes, initialisers), the
// weight packings its kernels want, the activation slots, and the kernel sequence with the buffer
// shape of every argument. The runtime interprets this table and knows nothing of any model family,
// so a new family needs new kernels and a new lowering, never a new runtime.
#ifndef MIXER_MODEL_DESC_H
#define MIXER_MODEL_DESC_H

#include <cstdint>

namespace mixer::rt {

inline constexpr int kMaxRank = 4;

/// How a parameter is initialised by NAME_create (timm's init for each family).
enum class InitKind : uint8_t {
  Zeros,
  Ones,
  XavierUniform, ///< U(-a, a), a = sqrt(6 / (fan_in + fan_out))
  LecunNormal,   ///< truncated normal, std = sqrt(1 / fan_in), cut at 2 std
  Normal,        ///< N(0, init_std)
  UniformFanIn,  ///< U(-a, a), a = 1 / sqrt(fan_in): PyTorch's nn.Linear default
};

/// What a parameter holds: f32 weights, or an i64 counter (BatchNorm's num_batches_tracked),
/// which no kernel reads but checkpoints carry, as timm's state_dict does.
enum class ElementType : uint8_t { F32, I64 };

struct ParamDesc {
  const char *name; ///< timm's state_dict key
  int32_t rank;
  int64_t shape[kMaxRank];
  InitKind init;
  float init_std;
  int64_t fan_in, fan_out;
  ElementType element;
  bool trainable; ///< has a gradient: the optimizer updates it
};

/// A weight re-laid out once after every load or init: packed[p][k][j] = W[p * panel + j][k]
/// (zero past N) for a parameter W of shape [N][K...]; the GEMM kernels read these panels.
struct PackDesc {
  int32_t param;
  int32_t panel;
  bool transposed; ///< packs W's transpose, as [K...][N] (the backward GEMM's weight)
  int32_t kernel;  ///< the packing kernel; argv: W as (K, N), the panels as (panel, K, panels)
};

/// Grad: a parameter's gradient (index: the parameter); Labels: the train step's int32 labels;
/// Hyper: the run-time hyper-parameters of a training kernel.
enum class SlotKind : uint8_t { Param, Packed, Input, Output, Activation, Grad, Labels, Hyper };

/// One buffer dimension: extent (times the batch when batch_scaled) and stride in elements.
struct DimDesc {
  int64_t extent;
  int64_t stride;
  bool batch_scaled;
};

struct ArgDesc {
  SlotKind kind;
  int32_t index; ///< into params, packs or activations; unused for Input and Output
  int32_t rank;  ///< Halide order: dims[0] is innermost
  DimDesc dims[kMaxRank];
};

using KernelFn = int (*)(void **);

struct KernelDesc {
  const char *name;
  KernelFn fn; ///< the Halide pipeline's argv entry point
};

struct StepDesc {
  int32_t kernel;
  const char *label; ///< the dialect op this step came from, for errors and profiles
  int32_t num_args;  ///< inputs then the output
  const ArgDesc *args;
  double flops_per_image; ///< multiply-adds x 2, for profiles
};

/// What a library compiled with `training = true` adds: the training step sequence (forward,
/// softmax cross-entropy, backward; it writes every trainable parameter's gradient, and its Output
/// is the per-image loss), its activation slots, and the fused optimizer kernels. The loss step's
/// Hyper is {label smoothing}; AdamW's and SGD's are documented in compiler/kernels.
struct TrainDesc {
  const int64_t *activation_elems_per_image;
  int32_t num_activations;
  const StepDesc *steps;
  int32_t num_steps;
  int32_t adamw_kernel, sgd_kernel; ///< into ModelDesc::kernels; argv: param, grad, state..., hyper
};

struct ModelDesc {
  int32_t abi_version;
  const char *name;
  const ParamDesc *params;
  int32_t num_params;
  const PackDesc *packs;
  int32_t num_packs;
  const int64_t *activation_elems_per_image;
  int32_t num_activations;
  const KernelDesc *kernels;
  int32_t num_kernels;
  const StepDesc *steps;
  int32_t num_steps;
  int64_t input_shape[3]; ///< C, H, W of one image
  int64_t num_classes;
  double flops_per_image; ///< multiply-adds counted as 2
  /// Larger batches run the whole kernel sequence on chunks of this many images, so that the
  /// activations stay in cache between kernels (0: never chunk).
  int64_t images_per_chunk;
  const TrainDesc *train; ///< nullptr unless compiled with `training = true`
  uint64_t plan_hash;     ///< mixer_model_info::plan_hash; checked by import_state
};

} // namespace mixer::rt

#endif // MIXER_MODEL_DESC_H
