// The runtime entry points the generated glue forwards NAME_create, NAME_infer, ... to.
#ifndef MIXER_MODEL_API_H
#define MIXER_MODEL_API_H

#include "mixer/model_desc.h"
#include "mixer/runtime.h"

namespace mixer::rt {

struct Model;

mixer_status create_model(const ModelDesc *desc, const mixer_options *opts, Model **out);
void destroy_model(Model *model);
mixer_status load_weights(Model *model, const char *path);
mixer_status save_weights(const Model *model, const char *path);
mixer_status infer(Model *model, const float *images, int64_t batch, float *logits);
/// infer, timing every step into steps[0 .. *num_steps); capacity must cover the model's steps.
mixer_status profile(Model *model, const float *images, int64_t batch, float *logits,
                     mixer_step_profile *steps, int32_t capacity, int32_t *num_steps);

/// One training step (NAME_train_step): forward, loss, backward, optimizer update.
mixer_status train_step(Model *model, const float *images, const int32_t *labels, int64_t batch,
                        const mixer_train_options *opts, float *loss_out);
/// train_step timing every step, then the optimizer and the repacking of the weight panels
/// (num_steps = training steps + 2).
mixer_status train_profile(Model *model, const float *images, const int32_t *labels,
                           int64_t batch, const mixer_train_options *opts, float *loss_out,
                           mixer_step_profile *steps, int32_t capacity, int32_t *num_steps);
/// train_step's first half (NAME_compute_gradients): forward, loss and backward into the
/// gradient arena, BatchNorm running statistics and counters updated; no parameter changes.
mixer_status compute_gradients(Model *model, const float *images, const int32_t *labels,
                               int64_t batch, const mixer_train_options *opts, float *loss_out);
/// train_step's second half (NAME_apply_gradients): one optimizer update from the gradient arena.
mixer_status apply_gradients(Model *model, const mixer_train_options *opts);
/// The gradient arena (NAME_gradients): trainable floats, writable between the two halves.
mixer_status gradients(Model *model, float **out_data, int64_t *out_count);
/// BatchNorm's running statistics, contiguous (NAME_running_stats); count 0 when the model has none.
mixer_status running_stats(Model *model, float **out_data, int64_t *out_count);
/// The whole training state as one blob (NAME_export_state / NAME_import_state): parameters,
/// buffers, counters, optimizer moments and step. buffer NULL asks for the size.
mixer_status export_state(const Model *model, void *buffer, int64_t capacity, int64_t *out_bytes);
mixer_status import_state(Model *model, const void *buffer, int64_t bytes);
/// Clears the thread's error message; every exported function calls it first.
void clear_error();

} // namespace mixer::rt

#endif // MIXER_MODEL_API_H
