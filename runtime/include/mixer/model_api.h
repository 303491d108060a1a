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
/// Clears the thread's error message; every exported function calls it first.
void clear_error();

} // namespace mixer::rt

#endif // MIXER_MODEL_API_H
