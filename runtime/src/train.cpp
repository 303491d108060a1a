// NAME_train_step: the training step sequence (forward, softmax cross-entropy, backward) writes
// every trainable parameter's gradient, then one fused optimizer kernel updates the parameters
// and their state in place, run over consecutive ranges of the arena so that each packed weight
// copy is rebuilt right after its weight is updated.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <vector>

#include "error.h"
#include "mixer/model_api.h"
#include "model.h"

namespace mixer::rt {
namespace {

const char *optimizer_name(mixer_optimizer kind) {
  return kind == MIXER_OPTIMIZER_SGD ? "SGD" : "AdamW";
}

bool finite_at_least(float v, float low) { return std::isfinite(v) && v >= low; }

/// Checks the options for `verb` ("train_step", "compute_gradients", ...), and that they continue
/// the optimizer state the model holds.
mixer_status check_options(const Model &model, const mixer_train_options &o, const char *verb) {
  const ModelDesc &desc = *model.desc;
  const char *n = desc.name;
  if (o.abi_version != MIXER_ABI_VERSION)
    return fail(MIXER_ERROR_UNSUPPORTED,
                "%s_%s: opts->abi_version is %u, this library has ABI %d; initialise the "
                "options with mixer_train_options_init",
                n, verb, o.abi_version, MIXER_ABI_VERSION);
  const int32_t kind = raw_enum(o.optimizer); // validated as the int a C caller stored
  if (kind != MIXER_OPTIMIZER_ADAMW && kind != MIXER_OPTIMIZER_SGD)
    return fail(MIXER_ERROR_INVALID_ARGUMENT, "%s_%s: opts->optimizer is %d (expected "
                "MIXER_OPTIMIZER_ADAMW or MIXER_OPTIMIZER_SGD)", n, verb, kind);
  if (!finite_at_least(o.learning_rate, 0.0f))
    return fail(MIXER_ERROR_INVALID_ARGUMENT,
                "%s_%s: opts->learning_rate is %g (must be finite and >= 0)", n, verb,
                double(o.learning_rate));
  if (!finite_at_least(o.weight_decay, 0.0f))
    return fail(MIXER_ERROR_INVALID_ARGUMENT,
                "%s_%s: opts->weight_decay is %g (must be finite and >= 0)", n, verb,
                double(o.weight_decay));
  if (!(o.label_smoothing >= 0.0f && o.label_smoothing < 1.0f))
    return fail(MIXER_ERROR_INVALID_ARGUMENT,
                "%s_%s: opts->label_smoothing is %g (must be in [0, 1))", n, verb,
                double(o.label_smoothing));
  if (o.optimizer == MIXER_OPTIMIZER_ADAMW) {
    if (!(o.beta1 >= 0.0f && o.beta1 < 1.0f) || !(o.beta2 >= 0.0f && o.beta2 < 1.0f))
      return fail(MIXER_ERROR_INVALID_ARGUMENT,
                  "%s_%s: opts->beta1 and beta2 are %g and %g (each must be in [0, 1))",
                  n, verb, double(o.beta1), double(o.beta2));
    if (!(std::isfinite(o.eps) && o.eps > 0.0f))
      return fail(MIXER_ERROR_INVALID_ARGUMENT,
                  "%s_%s: opts->eps is %g (must be finite and > 0)", n, verb, double(o.eps));
  } else if (!(o.momentum >= 0.0f && o.momentum <= 1.0f)) {
    return fail(MIXER_ERROR_INVALID_ARGUMENT,
                "%s_%s: opts->momentum is %g (must be in [0, 1])", n, verb,
                double(o.momentum));
  }
  if (model.optimizer_step > 0 && o.optimizer != model.optimizer)
    return fail(MIXER_ERROR_INVALID_ARGUMENT,
                "%s_%s: the model holds %s state from %lld steps; continuing with %s would "
                "discard it (load weights without optimizer.* tensors to start afresh)",
                n, verb, optimizer_name(model.optimizer), (long long)model.optimizer_step,
                optimizer_name(o.optimizer));
  return MIXER_OK;
}

/// One optimizer step over the trainable range of the arena, in place, with the packed panels
/// rebuilt as it goes: the update runs over consecutive ranges of the arena, each ending with a
/// packed weight, whose packing follows at once while the fresh weight is still in cache (after
/// one update over the whole arena, which streams weights, gradients and moments through memory,
/// the packing read every weight back from DRAM). Adds the time of each part to `seconds`.
mixer_status update_and_repack(Model *model, const mixer_train_options &o, double seconds[2]) {
  const TrainDesc &train = *model->desc->train;
  const int64_t step = model->optimizer_step + 1;
  const bool adamw = o.optimizer == MIXER_OPTIMIZER_ADAMW;
  // As torch.optim.AdamW computes its scalars (in double, then used as f32 by the kernels).
  const double lr = o.learning_rate;
  const double bc1 = 1.0 - std::pow(double(o.beta1), double(step));
  const double bc2 = 1.0 - std::pow(double(o.beta2), double(step));
  float adamwHyper[7] = {float(1.0 - lr * double(o.weight_decay)),
                         float(1.0 - double(o.beta1)),
                         o.beta2,
                         float(1.0 - double(o.beta2)),
                         float(lr / bc1),
                         float(std::sqrt(bc2)),
                         o.eps};
  float sgdHyper[3] = {o.learning_rate, o.momentum, o.weight_decay};
  using Clock = std::chrono::steady_clock;
  auto update = [&](int64_t begin, int64_t end) -> mixer_status {
    if (begin >= end)
      return MIXER_OK;
    const auto start = Clock::now();
    const int64_t n = end - begin;
    float *p = model->arena.get() + begin, *g = model->grads.get() + begin,
          *m = model->moment1.get() + begin;
    mixer_status s;
    if (adamw) {
      float *v = model->moment2.get() + begin;
      s = run_flat_kernel(model, train.adamw_kernel, {p, g, m, v, adamwHyper, p, m, v},
                          {n, n, n, n, 7, n, n, n});
    } else {
      s = run_flat_kernel(model, train.sgd_kernel, {p, g, m, sgdHyper, p, m}, {n, n, n, 3, n, n});
    }
    seconds[0] += std::chrono::duration<double>(Clock::now() - start).count();
    return s;
  };
  int64_t updated = 0;
  for (const auto &[pack, end] : model->packs_by_weight_end) {
    if (mixer_status s = update(updated, end))
      return s;
    updated = end; // ends ascend
    const auto start = Clock::now();
    if (mixer_status s = model->repack(pack))
      return s;
    seconds[1] += std::chrono::duration<double>(Clock::now() - start).count();
  }
  if (mixer_status s = update(updated, model->trainable_floats))
    return s;
  model->optimizer_step = step;
  model->optimizer = o.optimizer;
  return MIXER_OK;
}

/// The model, or an error naming `verb` when it is NULL or compiled without training.
mixer_status check_training_model(const Model *model, const char *verb) {
  if (!model)
    return fail(MIXER_ERROR_INVALID_ARGUMENT, "%s: model is NULL", verb);
  if (!model->desc->train)
    return fail(MIXER_ERROR_UNSUPPORTED,
                "%s_%s: the library was compiled without training = true", model->desc->name,
                verb);
  return MIXER_OK;
}

/// The options, or the defaults for NULL.
mixer_train_options options_or_defaults(const mixer_train_options *opts) {
  mixer_train_options o;
  mixer_train_options_init(&o);
  return opts ? *opts : o;
}

/// Forward, loss and backward into the gradient arena (with `seconds`, each step timed into it):
/// the first half of a train step, after checking every argument.
mixer_status run_compute(Model *model, const float *images, const int32_t *labels, int64_t batch,
                         const mixer_train_options *opts, float *loss_out, double *seconds,
                         const char *verb) {
  if (mixer_status s = check_training_model(model, verb))
    return s;
  const ModelDesc &desc = *model->desc;
  const char *n = desc.name;
  if (!images)
    return fail(MIXER_ERROR_INVALID_ARGUMENT, "%s_%s: images is NULL", n, verb);
  if (!labels)
    return fail(MIXER_ERROR_INVALID_ARGUMENT, "%s_%s: labels is NULL", n, verb);
  if (batch <= 0 || batch > model->train_batch_limit)
    return fail(MIXER_ERROR_INVALID_ARGUMENT, "%s_%s: batch is %lld (must be 1..%lld)", n, verb,
                (long long)batch, (long long)model->train_batch_limit);
  const mixer_train_options o = options_or_defaults(opts);
  if (mixer_status s = check_options(*model, o, verb))
    return s;
  for (int64_t i = 0; i < batch; ++i)
    if (labels[i] < 0 || labels[i] >= desc.num_classes)
      return fail(MIXER_ERROR_INVALID_ARGUMENT,
                  "%s_%s: labels[%lld] is %d (must be in [0, %lld))", n, verb, (long long)i,
                  labels[i], (long long)desc.num_classes);

  const TrainDesc &train = *desc.train;
  if (mixer_status s = model->train_activations.reserve(n, train.activation_elems_per_image,
                                                        train.num_activations, batch))
    return s;
  model->losses.resize(size_t(batch));
  const float lossHyper[1] = {o.label_smoothing};
  StepIO io;
  io.images = images;
  io.labels = labels;
  io.output = model->losses.data();
  io.hyper = lossHyper;
  io.activations = &model->train_activations;
  // A failed sequence may have written part of the arena: the gradients are not applicable.
  model->gradients_pending = false;
  if (mixer_status s = run_steps(model, train.steps, train.num_steps, io, batch, seconds))
    return s;
  // Counters (BatchNorm's num_batches_tracked) count training batches, as PyTorch's do.
  for (int32_t i = 0; i < desc.num_params; ++i)
    if (desc.params[i].element == ElementType::I64)
      ++*reinterpret_cast<int64_t *>(model->params[size_t(i)]);
  model->gradients_pending = true;
  double total = 0;
  for (float l : model->losses)
    total += double(l);
  if (loss_out)
    *loss_out = float(total / double(batch));
  return MIXER_OK;
}

/// The optimizer update from the gradient arena (the second half); with `seconds`, the update's
/// and the repacking's time into seconds[0] and seconds[1].
mixer_status run_apply(Model *model, const mixer_train_options *opts, double *seconds,
                       const char *verb) {
  if (mixer_status s = check_training_model(model, verb))
    return s;
  const mixer_train_options o = options_or_defaults(opts);
  if (mixer_status s = check_options(*model, o, verb))
    return s;
  if (!model->gradients_pending)
    return fail(MIXER_ERROR_INVALID_ARGUMENT,
                "%s_%s: no gradients to apply (call %s_compute_gradients first; each computation "
                "is applied once)",
                model->desc->name, verb, model->desc->name);
  model->gradients_pending = false;
  double parts[2] = {0, 0};
  if (mixer_status s = update_and_repack(model, o, parts))
    return s;
  if (seconds) {
    seconds[0] = parts[0];
    seconds[1] = parts[1];
  }
  return MIXER_OK;
}

/// The train step; with `seconds`, times every step and then the optimizer into it.
mixer_status run_train_step(Model *model, const float *images, const int32_t *labels,
                            int64_t batch, const mixer_train_options *opts, float *loss_out,
                            double *seconds) {
  float loss = 0;
  if (mixer_status s =
          run_compute(model, images, labels, batch, opts, &loss, seconds, "train_step"))
    return s;
  if (mixer_status s = run_apply(model, opts,
                                 seconds ? seconds + model->desc->train->num_steps : nullptr,
                                 "train_step"))
    return s;
  if (loss_out)
    *loss_out = loss;
  return MIXER_OK;
}

} // namespace

mixer_status train_step(Model *model, const float *images, const int32_t *labels, int64_t batch,
                        const mixer_train_options *opts, float *loss_out) {
  return run_train_step(model, images, labels, batch, opts, loss_out, nullptr);
}

mixer_status compute_gradients(Model *model, const float *images, const int32_t *labels,
                               int64_t batch, const mixer_train_options *opts, float *loss_out) {
  return run_compute(model, images, labels, batch, opts, loss_out, nullptr, "compute_gradients");
}

mixer_status apply_gradients(Model *model, const mixer_train_options *opts) {
  return run_apply(model, opts, nullptr, "apply_gradients");
}

mixer_status train_profile(Model *model, const float *images, const int32_t *labels,
                           int64_t batch, const mixer_train_options *opts, float *loss_out,
                           mixer_step_profile *steps, int32_t capacity, int32_t *num_steps) {
  if (!model || !model->desc->train) // the train step's own checks say what is wrong
    return run_train_step(model, images, labels, batch, opts, loss_out, nullptr);
  const ModelDesc &desc = *model->desc;
  if (!num_steps)
    return fail(MIXER_ERROR_INVALID_ARGUMENT, "%s_train_profile: num_steps is NULL", desc.name);
  const TrainDesc &train = *desc.train;
  *num_steps = train.num_steps + 2;
  if (capacity < *num_steps)
    return fail(MIXER_ERROR_INVALID_ARGUMENT,
                "%s_train_profile: capacity is %d but the train step has %d steps", desc.name,
                capacity, *num_steps);
  if (!steps)
    return fail(MIXER_ERROR_INVALID_ARGUMENT, "%s_train_profile: steps is NULL", desc.name);
  std::vector<double> seconds(size_t(*num_steps), 0.0);
  if (mixer_status s =
          run_train_step(model, images, labels, batch, opts, loss_out, seconds.data()))
    return s;
  for (int32_t i = 0; i < train.num_steps; ++i) {
    const StepDesc &step = train.steps[i];
    steps[i] = {step.label, desc.kernels[step.kernel].name, seconds[size_t(i)],
                step.flops_per_image * double(batch), step_bytes(step, batch)};
  }
  // The optimizer reads and writes whole parameter-sized arrays: AdamW reads 4 and writes 3,
  // SGD reads 3 and writes 2. The packing reads the weights and writes their panels.
  const double parameters = double(model->trainable_floats) * sizeof(float);
  const bool sgd = opts && opts->optimizer == MIXER_OPTIMIZER_SGD;
  steps[train.num_steps] = {"optimizer",
                            desc.kernels[sgd ? train.sgd_kernel : train.adamw_kernel].name,
                            seconds[size_t(train.num_steps)], 0.0, parameters * (sgd ? 5 : 7)};
  steps[train.num_steps + 1] = {"repack", "weight panels", seconds.back(), 0.0, parameters * 2};
  return MIXER_OK;
}

} // namespace mixer::rt
