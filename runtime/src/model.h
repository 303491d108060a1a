// The model object shared by the runtime's translation units: parameters in one arena (trainable
// ones first and contiguous, so one fused optimizer kernel updates them all), their packed copies,
// the activation arenas of inference and training, gradients and optimizer state.
#ifndef MIXER_RUNTIME_MODEL_H
#define MIXER_RUNTIME_MODEL_H

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "mixer/model_api.h"

namespace mixer::rt {

struct FreeDeleter {
  void operator()(float *p) const { std::free(p); }
};
using FloatArray = std::unique_ptr<float[], FreeDeleter>;

/// An enum field of a caller's struct as the int it holds. C callers may store any int there,
/// and loading a value outside the enum's range as the C++ enum is undefined behaviour, so
/// fields are validated through this before they are read as enums.
template <typename Enum> int32_t raw_enum(const Enum &field) {
  static_assert(sizeof(Enum) == sizeof(int32_t), "C enums are int-sized here");
  int32_t value;
  std::memcpy(&value, &field, sizeof value);
  return value;
}

/// 64-byte aligned and zeroed, so that kernels see cache-line aligned rows and padding stays zero;
/// nullptr when out of memory.
FloatArray allocate_floats(int64_t count);

/// Storage of a parameter in floats' worth: an i64 counter takes two per element.
int64_t storage_floats(const ParamDesc &param);

/// The activation slots of one step sequence, grown to the largest batch seen.
struct ActivationArena {
  std::vector<FloatArray> slots;
  int64_t batch = 0;
  mixer_status reserve(const char *model, const int64_t *elems_per_image, int32_t count,
                       int64_t batch);
};

/// The buffers a step sequence reads and writes besides parameters and activations.
struct StepIO {
  const float *images = nullptr;
  float *output = nullptr;
  const int32_t *labels = nullptr;
  const float *hyper = nullptr;
  ActivationArena *activations = nullptr;
};

struct Model {
  const ModelDesc *desc = nullptr;
  FloatArray arena;
  std::vector<float *> params;     ///< into arena
  std::vector<int64_t> offsets;    ///< of each parameter in arena (and in grads for trainable ones)
  int64_t trainable_floats = 0;    ///< [0, trainable_floats) of arena: what the optimizer updates
  /// [trainable_floats, trainable_floats + stats_floats): the non-trainable f32 parameters
  /// (BatchNorm's running statistics), then the i64 counters up to arena_floats.
  int64_t stats_floats = 0;
  int64_t arena_floats = 0;
  std::vector<FloatArray> packed;
  ActivationArena activations, train_activations;
  int64_t batch_limit = 0;       ///< of inference: every batch-scaled extent fits 32 bits
  int64_t train_batch_limit = 0; ///< the same for the training step

  // Training state (libraries compiled with training = true).
  FloatArray grads;            ///< trainable_floats, laid out as arena
  FloatArray moment1, moment2; ///< AdamW's exp_avg and exp_avg_sq, or SGD's momentum (moment1)
  /// Packs in the order their weights end in the arena, each with that end (clamped to the
  /// trainable range): the optimizer updates up to it, then repacks (train.cpp).
  std::vector<std::pair<int32_t, int64_t>> packs_by_weight_end;
  std::vector<float> losses;   ///< per-image loss of the last train step
  int64_t optimizer_step = 0;  ///< steps taken; 0: no state yet
  bool gradients_pending = false; ///< compute_gradients ran; apply_gradients has not yet
  mixer_optimizer optimizer = MIXER_OPTIMIZER_ADAMW; ///< whose state moment1/2 hold

  int64_t images_per_chunk(int64_t batch) const;
  /// Rebuilds the packed weight panels from the parameters (the generated packing kernels).
  mixer_status repack();
  /// Rebuilds the panels of pack `i` (desc->packs) alone.
  mixer_status repack(int32_t i);
  void reset_optimizer_state();
};

/// Runs `num_steps` steps of a sequence for `batch` images; with `seconds`, times each step.
mixer_status run_steps(Model *model, const StepDesc *steps, int32_t num_steps, const StepIO &io,
                       int64_t batch, double *seconds);

/// Bytes of the distinct buffers a step reads and writes at `batch` (profiles).
double step_bytes(const StepDesc &step, int64_t batch);

/// Calls kernel `kernel` with one flat f32 buffer per entry of `hosts` (the optimizers).
mixer_status run_flat_kernel(Model *model, int32_t kernel, const std::vector<void *> &hosts,
                             const std::vector<int64_t> &extents);

} // namespace mixer::rt

#endif
