// The model object: parameters, their packed copies, the activation arena, and the interpreter that
// runs a ModelDesc's kernel sequence. Nothing here knows which family the model belongs to.
#include <HalideRuntime.h>

#include <algorithm>
#include <chrono>
#include <climits>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>
#include <string>
#include <vector>

#include "error.h"
#include "init.h"
#include "mixer/model_api.h"
#include "safetensors.h"

namespace mixer::rt {
namespace {

/// The largest batch whose every buffer dimension fits Halide's 32-bit extents and whose
/// activations fit in memory addressable by size_t.
int64_t max_batch(const ModelDesc &desc) {
  int64_t limit = int64_t(1) << 24;
  for (int32_t s = 0; s < desc.num_steps; ++s)
    for (int32_t a = 0; a < desc.steps[s].num_args; ++a)
      for (int d = 0; d < desc.steps[s].args[a].rank; ++d) {
        const DimDesc &dim = desc.steps[s].args[a].dims[d];
        if (dim.batch_scaled)
          limit = std::min<int64_t>(limit, INT32_MAX / std::max<int64_t>(dim.extent, 1));
      }
  for (int32_t i = 0; i < desc.num_activations; ++i)
    limit = std::min<int64_t>(limit, int64_t(SIZE_MAX / 8) /
                                         std::max<int64_t>(desc.activation_elems_per_image[i], 1));
  return limit;
}

struct FreeDeleter {
  void operator()(float *p) const { std::free(p); }
};
using FloatArray = std::unique_ptr<float[], FreeDeleter>;

/// 64-byte aligned so that kernels see cache-line aligned rows; nullptr when out of memory.
FloatArray allocate_floats(int64_t count) {
  size_t bytes = (size_t(std::max<int64_t>(count, 1)) * sizeof(float) + 63) & ~size_t(63);
  return FloatArray(static_cast<float *>(std::aligned_alloc(64, bytes)));
}

/// Storage of a parameter in floats' worth: an i64 counter takes two per element.
int64_t storage_floats(const ParamDesc &param) {
  return element_count(param) * (param.element == ElementType::I64 ? 2 : 1);
}

const char *dtype_name(const ParamDesc &param) {
  return param.element == ElementType::I64 ? "I64" : "F32";
}

int64_t packed_count(const ParamDesc &param, int32_t panel) {
  int64_t rows = param.shape[0], per_row = element_count(param) / std::max<int64_t>(rows, 1);
  return (rows + panel - 1) / panel * panel * per_row;
}

/// packed[p][k][j] = W[p * panel + j][k], zero where p * panel + j >= N.
void pack_panels(const ParamDesc &param, int32_t panel, const float *w, float *packed) {
  const int64_t n = param.shape[0], k = element_count(param) / std::max<int64_t>(n, 1);
  const int64_t panels = (n + panel - 1) / panel;
  for (int64_t p = 0; p < panels; ++p)
    for (int64_t kk = 0; kk < k; ++kk)
      for (int64_t j = 0; j < panel; ++j) {
        int64_t row = p * panel + j;
        packed[(p * k + kk) * panel + j] = row < n ? w[row * k + kk] : 0.0f;
      }
}

// Halide reports failures through this handler; the message becomes the step's error.
thread_local std::string halide_message;
void capture_halide_error(void *, const char *message) { halide_message = message; }

} // namespace

struct Model {
  const ModelDesc *desc = nullptr;
  std::vector<FloatArray> params;
  std::vector<FloatArray> packed;
  std::vector<FloatArray> activations;
  int64_t activation_batch = 0; // the batch the activation arena is sized for
  int64_t batch_limit = 0;      // max_batch(*desc), fixed by the table

  /// Images per run of the kernel sequence for a call of `batch` images.
  int64_t images_per_chunk(int64_t batch) const {
    const int64_t chunk = desc->images_per_chunk;
    return chunk > 0 ? std::min(chunk, batch) : batch;
  }

  void repack() {
    for (int32_t i = 0; i < desc->num_packs; ++i) {
      const PackDesc &pack = desc->packs[i];
      pack_panels(desc->params[pack.param], pack.panel, params[size_t(pack.param)].get(),
                  packed[size_t(i)].get());
    }
  }

  mixer_status reserve_activations(int64_t batch) {
    if (batch <= activation_batch)
      return MIXER_OK;
    std::vector<FloatArray> grown;
    for (int32_t i = 0; i < desc->num_activations; ++i) {
      grown.push_back(allocate_floats(desc->activation_elems_per_image[i] * batch));
      if (!grown.back())
        return fail(MIXER_ERROR_OUT_OF_MEMORY, "%s: no memory for activations at batch %lld",
                    desc->name, (long long)batch);
    }
    activations = std::move(grown);
    activation_batch = batch;
    return MIXER_OK;
  }
};

mixer_status create_model(const ModelDesc *desc, const mixer_options *opts, Model **out) {
  if (!out)
    return fail(MIXER_ERROR_INVALID_ARGUMENT, "%s_create: out is NULL", desc->name);
  *out = nullptr;
  mixer_options defaults;
  mixer_options_init(&defaults);
  if (!opts)
    opts = &defaults;
  if (opts->abi_version != MIXER_ABI_VERSION || desc->abi_version != MIXER_ABI_VERSION)
    return fail(MIXER_ERROR_UNSUPPORTED,
                "%s_create: ABI mismatch: caller built against mixer ABI %u, library has %d "
                "(runtime %d); rebuild against the matching header",
                desc->name, opts->abi_version, desc->abi_version, MIXER_ABI_VERSION);
  if (opts->device != MIXER_DEVICE_CPU)
    return fail(MIXER_ERROR_UNSUPPORTED, "%s_create: device %d is not in this library",
                desc->name, int(opts->device));
  if (opts->num_threads < 0)
    return fail(MIXER_ERROR_INVALID_ARGUMENT, "%s_create: num_threads is %d (must be >= 0)",
                desc->name, opts->num_threads);

  std::unique_ptr<Model> model(new (std::nothrow) Model);
  if (!model)
    return fail(MIXER_ERROR_OUT_OF_MEMORY, "%s_create: out of memory", desc->name);
  model->desc = desc;
  model->batch_limit = max_batch(*desc);
  for (int32_t i = 0; i < desc->num_params; ++i) {
    const ParamDesc &param = desc->params[i];
    model->params.push_back(allocate_floats(storage_floats(param)));
    if (!model->params.back())
      return fail(MIXER_ERROR_OUT_OF_MEMORY, "%s_create: no memory for %s", desc->name,
                  param.name);
    if (param.element == ElementType::I64) // counters start at zero
      std::memset(model->params.back().get(), 0, size_t(storage_floats(param)) * sizeof(float));
    else
      initialise_param(param, opts->seed, i, model->params.back().get());
  }
  for (int32_t i = 0; i < desc->num_packs; ++i) {
    const PackDesc &pack = desc->packs[i];
    model->packed.push_back(allocate_floats(packed_count(desc->params[pack.param], pack.panel)));
    if (!model->packed.back())
      return fail(MIXER_ERROR_OUT_OF_MEMORY, "%s_create: out of memory", desc->name);
  }
  model->repack();
  halide_set_error_handler(capture_halide_error);
  if (opts->num_threads > 0)
    halide_set_num_threads(opts->num_threads);
  *out = model.release();
  return MIXER_OK;
}

void destroy_model(Model *model) { delete model; }

mixer_status load_weights(Model *model, const char *path) {
  if (!model)
    return fail(MIXER_ERROR_INVALID_ARGUMENT, "load_weights: model is NULL");
  const ModelDesc &desc = *model->desc;
  if (!path)
    return fail(MIXER_ERROR_INVALID_ARGUMENT, "%s_load_weights: path is NULL", desc.name);
  SafetensorsFile file;
  if (mixer_status s = read_safetensors(path, &file))
    return s;

  // Validate everything before touching the model, so a bad file leaves the old weights intact.
  std::vector<const TensorView *> sources(size_t(desc.num_params), nullptr);
  for (int32_t i = 0; i < desc.num_params; ++i) {
    const ParamDesc &param = desc.params[i];
    const TensorView *t = file.find(param.name);
    if (!t)
      return fail(MIXER_ERROR_SHAPE, "%s: missing tensor '%s'", path, param.name);
    if (t->dtype != dtype_name(param))
      return fail(MIXER_ERROR_SHAPE, "%s: tensor '%s' has dtype %s, expected %s", path,
                  param.name, t->dtype.c_str(), dtype_name(param));
    bool same = int32_t(t->shape.size()) == param.rank;
    for (int d = 0; same && d < param.rank; ++d)
      same = t->shape[size_t(d)] == param.shape[d];
    if (!same) {
      std::string got, want;
      for (int64_t d : t->shape)
        got += (got.empty() ? "" : ", ") + std::to_string(d);
      for (int d = 0; d < param.rank; ++d)
        want += (d ? ", " : "") + std::to_string(param.shape[d]);
      return fail(MIXER_ERROR_SHAPE, "%s: tensor '%s' has shape [%s], expected [%s]", path,
                  param.name, got.c_str(), want.c_str());
    }
    sources[size_t(i)] = t;
  }
  for (const TensorView &t : file.tensors) {
    bool known = false;
    for (int32_t i = 0; !known && i < desc.num_params; ++i)
      known = t.name == desc.params[i].name;
    if (!known)
      return fail(MIXER_ERROR_SHAPE, "%s: unexpected tensor '%s' (not a parameter of %s)", path,
                  t.name.c_str(), desc.name);
  }
  for (int32_t i = 0; i < desc.num_params; ++i)
    std::memcpy(model->params[size_t(i)].get(), sources[size_t(i)]->data,
                sources[size_t(i)]->bytes);
  model->repack();
  return MIXER_OK;
}

mixer_status save_weights(const Model *model, const char *path) {
  if (!model)
    return fail(MIXER_ERROR_INVALID_ARGUMENT, "save_weights: model is NULL");
  const ModelDesc &desc = *model->desc;
  if (!path)
    return fail(MIXER_ERROR_INVALID_ARGUMENT, "%s_save_weights: path is NULL", desc.name);
  std::vector<TensorToWrite> tensors;
  for (int32_t i = 0; i < desc.num_params; ++i) {
    const ParamDesc &param = desc.params[i];
    tensors.push_back({param.name, dtype_name(param),
                       std::vector<int64_t>(param.shape, param.shape + param.rank),
                       model->params[size_t(i)].get()});
  }
  return write_safetensors(path, tensors, {{"format", "pt"}, {"mixerc_model", desc.name}});
}

namespace {

/// The argument checks infer and profile share; `verb` names the function in messages.
mixer_status check_infer_args(Model *model, const float *images, int64_t batch,
                              const float *logits, const char *verb) {
  if (!model)
    return fail(MIXER_ERROR_INVALID_ARGUMENT, "%s: model is NULL", verb);
  const ModelDesc &desc = *model->desc;
  if (!images)
    return fail(MIXER_ERROR_INVALID_ARGUMENT, "%s_%s: images is NULL", desc.name, verb);
  if (!logits)
    return fail(MIXER_ERROR_INVALID_ARGUMENT, "%s_%s: logits is NULL", desc.name, verb);
  if (batch <= 0 || batch > model->batch_limit)
    return fail(MIXER_ERROR_INVALID_ARGUMENT, "%s_%s: batch is %lld (must be 1..%lld)",
                desc.name, verb, (long long)batch, (long long)model->batch_limit);
  return model->reserve_activations(model->images_per_chunk(batch));
}

/// Bytes of the distinct buffers a step touches (a slot viewed twice, as a depthwise
/// convolution's input and residual, counts once).
double step_bytes(const StepDesc &step, int64_t batch) {
  double bytes = 0;
  for (int32_t a = 0; a < step.num_args; ++a) {
    const ArgDesc &arg = step.args[a];
    bool seen = false;
    for (int32_t b = 0; b < a && !seen; ++b)
      seen = step.args[b].kind == arg.kind && step.args[b].index == arg.index;
    if (seen)
      continue;
    double elements = 1;
    for (int d = 0; d < arg.rank; ++d)
      elements *= double(arg.dims[d].extent) * (arg.dims[d].batch_scaled ? double(batch) : 1.0);
    bytes += elements * sizeof(float);
  }
  return bytes;
}

/// Runs the kernel sequence; with `seconds`, times each step into it.
mixer_status run_steps(Model *model, const float *images, int64_t batch, float *logits,
                       double *seconds) {
  const ModelDesc &desc = *model->desc;
  halide_buffer_t buffers[16];
  halide_dimension_t dims[16][kMaxRank];
  void *argv[16];
  for (int32_t s = 0; s < desc.num_steps; ++s) {
    const StepDesc &step = desc.steps[s];
    for (int32_t a = 0; a < step.num_args; ++a) {
      const ArgDesc &arg = step.args[a];
      float *host = nullptr;
      switch (arg.kind) {
      case SlotKind::Param: host = model->params[size_t(arg.index)].get(); break;
      case SlotKind::Packed: host = model->packed[size_t(arg.index)].get(); break;
      case SlotKind::Input: host = const_cast<float *>(images); break;
      case SlotKind::Output: host = logits; break;
      case SlotKind::Activation: host = model->activations[size_t(arg.index)].get(); break;
      }
      for (int d = 0; d < arg.rank; ++d) {
        const DimDesc &dim = arg.dims[d];
        dims[a][d] = {0, int32_t(dim.batch_scaled ? dim.extent * batch : dim.extent),
                      int32_t(dim.stride), 0};
      }
      buffers[a] = halide_buffer_t{};
      buffers[a].host = reinterpret_cast<uint8_t *>(host);
      buffers[a].type = halide_type_t(halide_type_float, 32, 1);
      buffers[a].dimensions = arg.rank;
      buffers[a].dim = dims[a];
      argv[a] = &buffers[a];
    }
    halide_message.clear();
    std::chrono::steady_clock::time_point start;
    if (seconds) // plain inference reads no clock
      start = std::chrono::steady_clock::now();
    int result = desc.kernels[step.kernel].fn(argv);
    if (seconds)
      seconds[s] =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (result != 0)
      return fail(MIXER_ERROR_INTERNAL, "%s_infer: kernel %s (%s) failed with %d: %s", desc.name,
                  desc.kernels[step.kernel].name, step.label, result, halide_message.c_str());
  }
  return MIXER_OK;
}

/// Runs the kernel sequence chunk by chunk (ModelDesc::images_per_chunk); per-step times add up.
mixer_status run_chunks(Model *model, const float *images, int64_t batch, float *logits,
                        double *seconds) {
  const ModelDesc &desc = *model->desc;
  const int64_t chunk = model->images_per_chunk(batch);
  const int64_t image_elems = desc.input_shape[0] * desc.input_shape[1] * desc.input_shape[2];
  std::vector<double> chunk_seconds(seconds ? size_t(desc.num_steps) : 0);
  for (int64_t start = 0; start < batch; start += chunk) {
    const int64_t n = std::min(chunk, batch - start);
    if (mixer_status s = run_steps(model, images + start * image_elems, n,
                                   logits + start * desc.num_classes,
                                   seconds ? chunk_seconds.data() : nullptr))
      return s;
    for (size_t i = 0; i < chunk_seconds.size(); ++i)
      seconds[i] += chunk_seconds[i];
  }
  return MIXER_OK;
}

} // namespace

mixer_status infer(Model *model, const float *images, int64_t batch, float *logits) {
  if (mixer_status s = check_infer_args(model, images, batch, logits, "infer"))
    return s;
  return run_chunks(model, images, batch, logits, nullptr);
}

mixer_status profile(Model *model, const float *images, int64_t batch, float *logits,
                     mixer_step_profile *steps, int32_t capacity, int32_t *num_steps) {
  if (mixer_status s = check_infer_args(model, images, batch, logits, "profile"))
    return s;
  const ModelDesc &desc = *model->desc;
  if (!num_steps)
    return fail(MIXER_ERROR_INVALID_ARGUMENT, "%s_profile: num_steps is NULL", desc.name);
  *num_steps = desc.num_steps;
  if (capacity < desc.num_steps)
    return fail(MIXER_ERROR_INVALID_ARGUMENT,
                "%s_profile: capacity is %d but the model runs %d steps", desc.name, capacity,
                desc.num_steps);
  if (!steps)
    return fail(MIXER_ERROR_INVALID_ARGUMENT, "%s_profile: steps is NULL", desc.name);
  std::vector<double> seconds(size_t(desc.num_steps), 0.0);
  if (mixer_status s = run_chunks(model, images, batch, logits, seconds.data()))
    return s;
  for (int32_t i = 0; i < desc.num_steps; ++i) {
    const StepDesc &step = desc.steps[i];
    steps[i] = {step.label, desc.kernels[step.kernel].name, seconds[size_t(i)],
                step.flops_per_image * double(batch), step_bytes(step, batch)};
  }
  return MIXER_OK;
}

} // namespace mixer::rt
