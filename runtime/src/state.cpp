// What data-parallel training reaches inside a model: the gradient arena and the running
// statistics (read and rewritten in place between NAME_compute_gradients and
// NAME_apply_gradients, as an all-reduce does), and the whole training state as one blob
// (NAME_export_state / NAME_import_state), which a trainer broadcasts so that every process
// starts from the same parameters and optimizer state.
#include <cstring>

#include "error.h"
#include "mixer/model_api.h"
#include "model.h"

namespace mixer::rt {
namespace {

/// The blob's header; the arena, then (training libraries) the two moment arrays follow it.
struct StateHeader {
  char magic[8];
  uint32_t abi_version;
  uint32_t optimizer;
  uint64_t plan_hash;
  int64_t arena_floats;
  int64_t moment_floats; ///< of each moment array: the trainable floats, or 0 without training
  int64_t optimizer_step;
};

constexpr char kMagic[8] = {'M', 'I', 'X', 'S', 'T', 'A', 'T', 'E'};

int64_t moment_floats(const Model &model) {
  return model.desc->train ? model.trainable_floats : 0;
}

int64_t state_bytes(const Model &model) {
  return int64_t(sizeof(StateHeader)) +
         (model.arena_floats + 2 * moment_floats(model)) * int64_t(sizeof(float));
}

/// The pointer and count checks the two views share.
mixer_status check_view(const Model *model, float **out_data, int64_t *out_count,
                        const char *verb) {
  if (!model)
    return fail(MIXER_ERROR_INVALID_ARGUMENT, "%s: model is NULL", verb);
  if (!out_data || !out_count)
    return fail(MIXER_ERROR_INVALID_ARGUMENT, "%s_%s: %s is NULL", model->desc->name, verb,
                out_data ? "out_count" : "out_data");
  return MIXER_OK;
}

} // namespace

mixer_status gradients(Model *model, float **out_data, int64_t *out_count) {
  if (mixer_status s = check_view(model, out_data, out_count, "gradients"))
    return s;
  if (!model->desc->train)
    return fail(MIXER_ERROR_UNSUPPORTED,
                "%s_gradients: the library was compiled without training = true",
                model->desc->name);
  *out_data = model->grads.get();
  *out_count = model->trainable_floats;
  return MIXER_OK;
}

mixer_status running_stats(Model *model, float **out_data, int64_t *out_count) {
  if (mixer_status s = check_view(model, out_data, out_count, "running_stats"))
    return s;
  *out_data = model->arena.get() + model->trainable_floats;
  *out_count = model->stats_floats;
  return MIXER_OK;
}

mixer_status export_state(const Model *model, void *buffer, int64_t capacity,
                          int64_t *out_bytes) {
  if (!model)
    return fail(MIXER_ERROR_INVALID_ARGUMENT, "export_state: model is NULL");
  const char *n = model->desc->name;
  if (!out_bytes)
    return fail(MIXER_ERROR_INVALID_ARGUMENT, "%s_export_state: out_bytes is NULL", n);
  const int64_t bytes = state_bytes(*model);
  *out_bytes = bytes;
  if (!buffer)
    return MIXER_OK;
  if (capacity < bytes)
    return fail(MIXER_ERROR_INVALID_ARGUMENT,
                "%s_export_state: capacity is %lld bytes, the state takes %lld", n,
                (long long)capacity, (long long)bytes);
  StateHeader header{};
  std::memcpy(header.magic, kMagic, sizeof(kMagic));
  header.abi_version = MIXER_ABI_VERSION;
  header.optimizer = uint32_t(model->optimizer);
  header.plan_hash = model->desc->plan_hash;
  header.arena_floats = model->arena_floats;
  header.moment_floats = moment_floats(*model);
  header.optimizer_step = model->optimizer_step;
  char *out = static_cast<char *>(buffer);
  std::memcpy(out, &header, sizeof(header));
  out += sizeof(header);
  const size_t arena = size_t(model->arena_floats) * sizeof(float);
  const size_t moments = size_t(header.moment_floats) * sizeof(float);
  std::memcpy(out, model->arena.get(), arena);
  if (moments) {
    std::memcpy(out + arena, model->moment1.get(), moments);
    std::memcpy(out + arena + moments, model->moment2.get(), moments);
  }
  return MIXER_OK;
}

mixer_status import_state(Model *model, const void *buffer, int64_t bytes) {
  if (!model)
    return fail(MIXER_ERROR_INVALID_ARGUMENT, "import_state: model is NULL");
  const char *n = model->desc->name;
  if (!buffer)
    return fail(MIXER_ERROR_INVALID_ARGUMENT, "%s_import_state: buffer is NULL", n);
  StateHeader header{};
  if (bytes < int64_t(sizeof(header)))
    return fail(MIXER_ERROR_FORMAT, "%s_import_state: %lld bytes is shorter than a state header",
                n, (long long)bytes);
  std::memcpy(&header, buffer, sizeof(header));
  if (std::memcmp(header.magic, kMagic, sizeof(kMagic)) != 0)
    return fail(MIXER_ERROR_FORMAT, "%s_import_state: not a state from NAME_export_state", n);
  if (header.abi_version != MIXER_ABI_VERSION || header.plan_hash != model->desc->plan_hash)
    return fail(MIXER_ERROR_UNSUPPORTED,
                "%s_import_state: the state comes from another build (ABI %u, plan hash "
                "%016llx; this library: ABI %d, plan hash %016llx)",
                n, header.abi_version, (unsigned long long)header.plan_hash, MIXER_ABI_VERSION,
                (unsigned long long)model->desc->plan_hash);
  if (header.arena_floats != model->arena_floats ||
      header.moment_floats != moment_floats(*model) || bytes != state_bytes(*model))
    return fail(MIXER_ERROR_FORMAT,
                "%s_import_state: %lld bytes, expected %lld for this model's state", n,
                (long long)bytes, (long long)state_bytes(*model));
  if (header.optimizer_step < 0 ||
      (header.optimizer != MIXER_OPTIMIZER_ADAMW && header.optimizer != MIXER_OPTIMIZER_SGD))
    return fail(MIXER_ERROR_FORMAT, "%s_import_state: bad optimizer state (kind %u, step %lld)",
                n, header.optimizer, (long long)header.optimizer_step);
  const char *in = static_cast<const char *>(buffer) + sizeof(header);
  const size_t arena = size_t(model->arena_floats) * sizeof(float);
  const size_t moments = size_t(header.moment_floats) * sizeof(float);
  std::memcpy(model->arena.get(), in, arena);
  if (moments) {
    std::memcpy(model->moment1.get(), in + arena, moments);
    std::memcpy(model->moment2.get(), in + arena + moments, moments);
  }
  model->optimizer_step = header.optimizer_step;
  model->optimizer = mixer_optimizer(header.optimizer);
  model->gradients_pending = false;
  return model->repack();
}

} // namespace mixer::rt
