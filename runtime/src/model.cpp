// The model object: parameters, their packed copies, the activation arena, and the interpreter that
// runs a ModelDesc's kernel sequence. Nothing here knows which family the model belongs to.
#include <HalideRuntime.h>
#include <sys/mman.h>

#include <algorithm>
#include <chrono>
#include <climits>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <new>
#include <string>
#include <vector>

#include "convert.h"
#include "error.h"
#include "init.h"
#include "memory.h"
#include "mixer/model_api.h"
#include "model.h"
#include "safetensors.h"

namespace mixer::rt {
namespace {

/// Lowers `limit` so that every batch-scaled dimension of `steps` and every activation slot of
/// `elems_per_image` stays within Halide's 32-bit extents and size_t.
void limit_batch(const StepDesc *steps, int32_t num_steps, const int64_t *elems_per_image,
                 int32_t num_activations, int64_t *limit) {
  for (int32_t s = 0; s < num_steps; ++s)
    for (int32_t a = 0; a < steps[s].num_args; ++a)
      for (int d = 0; d < steps[s].args[a].rank; ++d) {
        const DimDesc &dim = steps[s].args[a].dims[d];
        if (dim.batch_scaled)
          *limit = std::min<int64_t>(*limit, INT32_MAX / std::max<int64_t>(dim.extent, 1));
      }
  for (int32_t i = 0; i < num_activations; ++i)
    *limit = std::min<int64_t>(*limit, int64_t(SIZE_MAX / 8) /
                                           std::max<int64_t>(elems_per_image[i], 1));
}

/// The largest batch whose every buffer dimension fits Halide's 32-bit extents and whose
/// activations fit in memory addressable by size_t: of inference, or of the training step.
int64_t max_batch(const ModelDesc &desc, bool training) {
  int64_t limit = int64_t(1) << 24;
  if (!training)
    limit_batch(desc.steps, desc.num_steps, desc.activation_elems_per_image,
                desc.num_activations, &limit);
  else if (const TrainDesc *train = desc.train)
    limit_batch(train->steps, train->num_steps, train->activation_elems_per_image,
                train->num_activations, &limit);
  return limit;
}

const char *dtype_name(const ParamDesc &param) {
  return param.element == ElementType::I64 ? "I64" : "F32";
}

/// A weight [rows][cols...] and its packed panels: n columns (rows, or cols when transposed) in
/// `panels` panels, each k deep.
struct PanelShape {
  int64_t rows, cols, n, k, panels;
  PanelShape(const PackDesc &pack, const ParamDesc &param)
      : rows(param.shape[0]), cols(element_count(param) / std::max<int64_t>(param.shape[0], 1)),
        n(pack.transposed ? cols : rows), k(pack.transposed ? rows : cols),
        panels((n + pack.panel - 1) / pack.panel) {}
};

int64_t packed_count(const PackDesc &pack, const ParamDesc &param) {
  PanelShape shape(pack, param);
  return shape.panels * pack.panel * shape.k;
}

/// `host` as a Halide buffer of `rank` dimensions (`dims` stays the caller's).
halide_buffer_t describe(void *host, halide_type_t type, halide_dimension_t *dims, int rank) {
  halide_buffer_t buffer{};
  buffer.host = static_cast<uint8_t *>(host);
  buffer.type = type;
  buffer.dimensions = rank;
  buffer.dim = dims;
  return buffer;
}

const halide_type_t kFloat32(halide_type_float, 32, 1);

/// Parameters start on 64-byte boundaries in the arena.
int64_t aligned(int64_t floats) { return (floats + 15) & ~int64_t(15); }

// Halide reports failures through this handler; the message becomes the step's error.
thread_local std::string halide_message;
void capture_halide_error(void *, const char *message) { halide_message = message; }

/// Calls kernel `kernel` with `argv`; a failure names the kernel and what it was computing.
mixer_status call_kernel(const ModelDesc &desc, int32_t kernel, void **argv, const char *what) {
  halide_message.clear();
  int result = desc.kernels[kernel].fn(argv);
  if (result != 0)
    return fail(MIXER_ERROR_INTERNAL, "%s: kernel %s (%s) failed with %d: %s", desc.name,
                desc.kernels[kernel].name, what, result, halide_message.c_str());
  return MIXER_OK;
}

} // namespace

FloatArray allocate_floats(int64_t count) {
  size_t bytes = (size_t(std::max<int64_t>(count, 1)) * sizeof(float) + 63) & ~size_t(63);
  // Buffers of 2 MiB or more ask for transparent huge pages (kernels set to "madvise", as this
  // host is, grant them only on request): the weight gradients walk rows kilobytes apart, one
  // 4 KiB page each, and miss the TLB (S/16 at batch 8 on Zen 4: 282-290 -> 272-278 ms of them
  // per step).
  constexpr size_t kHugePage = size_t(2) << 20;
  const bool huge = bytes >= kHugePage;
  if (huge)
    bytes = (bytes + kHugePage - 1) & ~(kHugePage - 1);
  FloatArray array(static_cast<float *>(std::aligned_alloc(huge ? kHugePage : 64, bytes)));
  if (array && huge)
    madvise(array.get(), bytes, MADV_HUGEPAGE);
  if (array)
    std::memset(array.get(), 0, bytes);
  return array;
}

int64_t storage_floats(const ParamDesc &param) {
  return element_count(param) * (param.element == ElementType::I64 ? 2 : 1);
}

mixer_status ActivationArena::reserve(const char *model, const int64_t *elems_per_image,
                                      int32_t count, int64_t wanted) {
  if (wanted <= batch)
    return MIXER_OK;
  double bytes = 0;
  for (int32_t i = 0; i < count; ++i)
    bytes += double(elems_per_image[i]) * double(wanted) * sizeof(float);
  char what[64];
  std::snprintf(what, sizeof what, "the activations of a batch of %lld", (long long)wanted);
  if (mixer_status s = check_fits(bytes, model, what))
    return s;
  std::vector<FloatArray> grown;
  for (int32_t i = 0; i < count; ++i) {
    grown.push_back(allocate_floats(elems_per_image[i] * wanted));
    if (!grown.back())
      return fail(MIXER_ERROR_OUT_OF_MEMORY, "%s: no memory for activations at batch %lld", model,
                  (long long)wanted);
  }
  slots = std::move(grown);
  batch = wanted;
  return MIXER_OK;
}

int64_t Model::images_per_chunk(int64_t batch) const {
  const int64_t chunk = desc->images_per_chunk;
  return chunk > 0 ? std::min(chunk, batch) : batch;
}

mixer_status Model::repack() {
  for (int32_t i = 0; i < desc->num_packs; ++i)
    if (mixer_status status = repack(i))
      return status;
  return MIXER_OK;
}

mixer_status Model::repack(int32_t i) {
  const PackDesc &pack = desc->packs[i];
  const PanelShape s(pack, desc->params[pack.param]);
  halide_dimension_t in[2] = {{0, int32_t(s.cols), 1, 0},
                              {0, int32_t(s.rows), int32_t(s.cols), 0}};
  halide_dimension_t out[3] = {{0, pack.panel, 1, 0},
                               {0, int32_t(s.k), pack.panel, 0},
                               {0, int32_t(s.panels), int32_t(s.k * pack.panel), 0}};
  halide_buffer_t buffers[2] = {describe(params[size_t(pack.param)], kFloat32, in, 2),
                                describe(packed[size_t(i)].get(), kFloat32, out, 3)};
  void *argv[2] = {&buffers[0], &buffers[1]};
  return call_kernel(*desc, pack.kernel, argv, desc->params[pack.param].name);
}

void Model::reset_optimizer_state() {
  optimizer_step = 0;
  for (FloatArray *state : {&moment1, &moment2})
    if (*state)
      std::memset(state->get(), 0, size_t(trainable_floats) * sizeof(float));
}

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
  if (raw_enum(opts->device) != MIXER_DEVICE_CPU)
    return fail(MIXER_ERROR_UNSUPPORTED, "%s_create: device %d is not in this library",
                desc->name, raw_enum(opts->device));
  if (opts->num_threads < 0)
    return fail(MIXER_ERROR_INVALID_ARGUMENT, "%s_create: num_threads is %d (must be >= 0)",
                desc->name, opts->num_threads);

  std::unique_ptr<Model> model(new (std::nothrow) Model);
  if (!model)
    return fail(MIXER_ERROR_OUT_OF_MEMORY, "%s_create: out of memory", desc->name);
  model->desc = desc;
  model->batch_limit = max_batch(*desc, false);
  model->train_batch_limit = max_batch(*desc, true);
  // Arena layout: trainable parameters first (the optimizer's contiguous range), then the other
  // f32 parameters (running statistics, one contiguous range that data-parallel training
  // averages across processes), then the i64 counters.
  model->offsets.assign(size_t(desc->num_params), 0);
  int64_t cursor = 0;
  enum Group { Trainable, Statistic, Counter };
  auto group = [](const ParamDesc &p) {
    return p.trainable ? Trainable : p.element == ElementType::F32 ? Statistic : Counter;
  };
  for (Group g : {Trainable, Statistic, Counter}) {
    for (int32_t i = 0; i < desc->num_params; ++i)
      if (group(desc->params[i]) == g) {
        model->offsets[size_t(i)] = cursor;
        cursor = aligned(cursor + storage_floats(desc->params[i]));
      }
    if (g == Trainable)
      model->trainable_floats = cursor;
    else if (g == Statistic)
      model->stats_floats = cursor - model->trainable_floats;
  }
  model->arena_floats = cursor;
  // Everything create allocates, checked at once: parameters, packed panels, and for training
  // the gradients and two moments.
  double floats = double(cursor) + (desc->train ? 3.0 * double(model->trainable_floats) : 0.0);
  for (int32_t i = 0; i < desc->num_packs; ++i)
    floats += double(packed_count(desc->packs[i], desc->params[desc->packs[i].param]));
  char who[256];
  std::snprintf(who, sizeof who, "%s_create", desc->name);
  if (mixer_status s = check_fits(floats * sizeof(float), who,
                                  desc->train ? "the parameters, packed weights, gradients and "
                                                "optimizer state"
                                              : "the parameters and packed weights"))
    return s;
  model->arena = allocate_floats(cursor);
  if (!model->arena)
    return fail(MIXER_ERROR_OUT_OF_MEMORY, "%s_create: no memory for the parameters",
                desc->name);
  for (int32_t i = 0; i < desc->num_params; ++i) {
    const ParamDesc &param = desc->params[i];
    model->params.push_back(model->arena.get() + model->offsets[size_t(i)]);
    if (param.element == ElementType::F32) // counters start at zero
      initialise_param(param, opts->seed, i, model->params.back());
  }
  for (int32_t i = 0; i < desc->num_packs; ++i) {
    const PackDesc &pack = desc->packs[i];
    model->packed.push_back(allocate_floats(packed_count(pack, desc->params[pack.param])));
    if (!model->packed.back())
      return fail(MIXER_ERROR_OUT_OF_MEMORY, "%s_create: out of memory", desc->name);
  }
  if (desc->train) {
    model->grads = allocate_floats(model->trainable_floats);
    model->moment1 = allocate_floats(model->trainable_floats);
    model->moment2 = allocate_floats(model->trainable_floats);
    if (!model->grads || !model->moment1 || !model->moment2)
      return fail(MIXER_ERROR_OUT_OF_MEMORY, "%s_create: no memory for the optimizer state",
                  desc->name);
    for (int32_t i = 0; i < desc->num_packs; ++i) {
      const int32_t param = desc->packs[i].param;
      const int64_t end = model->offsets[size_t(param)] + element_count(desc->params[param]);
      model->packs_by_weight_end.push_back({i, std::min(end, model->trainable_floats)});
    }
    std::stable_sort(model->packs_by_weight_end.begin(), model->packs_by_weight_end.end(),
                     [](const auto &a, const auto &b) { return a.second < b.second; });
  }
  // Halide's error handler is one global of this library's Halide runtime: set once, so that
  // models created on several threads at once do not race on it (ThreadSanitizer saw that).
  static std::once_flag handler_set;
  std::call_once(handler_set, [] { halide_set_error_handler(capture_halide_error); });
  if (opts->num_threads > 0)
    halide_set_num_threads(opts->num_threads);
  if (mixer_status status = model->repack())
    return status;
  *out = model.release();
  return MIXER_OK;
}

void destroy_model(Model *model) { delete model; }

namespace {

std::string shape_string(const int64_t *shape, size_t rank) {
  std::string out;
  for (size_t d = 0; d < rank; ++d)
    out += (d ? ", " : "") + std::to_string(shape[d]);
  return out;
}

/// Checks that `t` exists with `dtype` and `shape`; the message names the file and the tensor.
mixer_status check_tensor(const char *path, const TensorView *t, const std::string &name,
                          const char *dtype, const int64_t *shape, int32_t rank) {
  if (!t)
    return fail(MIXER_ERROR_SHAPE, "%s: missing tensor '%s'", path, name.c_str());
  // Floating-point weights of another precision are converted (convert.h); counters stay I64.
  const bool f32 = std::strcmp(dtype, "F32") == 0;
  if (f32 ? !converts_to_f32(t->dtype) : t->dtype != dtype)
    return fail(MIXER_ERROR_SHAPE, "%s: tensor '%s' has dtype %s, expected %s", path,
                name.c_str(), t->dtype.c_str(), f32 ? "F32 (or F16, BF16, F64)" : dtype);
  bool same = int32_t(t->shape.size()) == rank;
  for (int d = 0; same && d < rank; ++d)
    same = t->shape[size_t(d)] == shape[d];
  if (!same)
    return fail(MIXER_ERROR_SHAPE, "%s: tensor '%s' has shape [%s], expected [%s]", path,
                name.c_str(), shape_string(t->shape.data(), t->shape.size()).c_str(),
                shape_string(shape, size_t(rank)).c_str());
  return check_f32_range(path, *t);
}

/// BatchNorm's counter, which PyTorch's load_state_dict lets a file omit (the module keeps its
/// own value), as files written before PyTorch 0.4.1 and some converters do.
bool optional_counter(const ParamDesc &param) {
  const char *suffix = ".num_batches_tracked";
  const size_t n = std::strlen(param.name), k = std::strlen(suffix);
  return param.element == ElementType::I64 && n >= k && !std::strcmp(param.name + n - k, suffix);
}

constexpr const char *kOptimizerPrefix = "optimizer.";
constexpr const char *kStepName = "optimizer.step";

/// The state tensors' name prefixes of an optimizer: AdamW's two moments, SGD's momentum.
std::vector<std::string> state_prefixes(mixer_optimizer kind) {
  if (kind == MIXER_OPTIMIZER_SGD)
    return {"optimizer.momentum_buffer."};
  return {"optimizer.exp_avg.", "optimizer.exp_avg_sq."};
}

bool starts_with(const std::string &s, const char *prefix) { return s.rfind(prefix, 0) == 0; }

} // namespace

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
    if (!t && optional_counter(param))
      continue; // keeps the model's count
    if (mixer_status s = check_tensor(path, t, param.name, dtype_name(param), param.shape,
                                      param.rank))
      return s;
    sources[size_t(i)] = t;
  }
  // Optimizer state (a training checkpoint): the step count and every trainable parameter's
  // moments. An inference-only library ignores it.
  const TensorView *step = file.find(kStepName);
  mixer_optimizer kind = MIXER_OPTIMIZER_ADAMW;
  std::vector<std::pair<const TensorView *, float *>> state;
  int64_t steps_taken = 0;
  if (step && desc.train) {
    const int64_t scalar[1] = {0};
    if (mixer_status s = check_tensor(path, step, kStepName, "I64", scalar, 0))
      return s;
    std::memcpy(&steps_taken, step->data, sizeof(steps_taken));
    if (steps_taken < 1)
      return fail(MIXER_ERROR_FORMAT, "%s: tensor '%s' is %lld (must be >= 1)", path, kStepName,
                  (long long)steps_taken);
    bool sgd = false;
    for (const TensorView &t : file.tensors)
      sgd = sgd || starts_with(t.name, "optimizer.momentum_buffer.");
    kind = sgd ? MIXER_OPTIMIZER_SGD : MIXER_OPTIMIZER_ADAMW;
    std::vector<std::string> prefixes = state_prefixes(kind);
    for (size_t m = 0; m < prefixes.size(); ++m)
      for (int32_t i = 0; i < desc.num_params; ++i) {
        const ParamDesc &param = desc.params[i];
        if (!param.trainable)
          continue;
        std::string name = prefixes[m] + param.name;
        const TensorView *t = file.find(name);
        if (mixer_status s = check_tensor(path, t, name, "F32", param.shape, param.rank))
          return s;
        float *target = (m == 0 ? model->moment1 : model->moment2).get() +
                        model->offsets[size_t(i)];
        state.push_back({t, target});
      }
  }
  for (const TensorView &t : file.tensors) {
    // An inference-only library ignores optimizer state; a training library takes exactly the
    // state its step count announces (moments without a step are refused, not dropped).
    bool known = starts_with(t.name, kOptimizerPrefix) &&
                 (!desc.train || t.name == kStepName ||
                  std::any_of(state.begin(), state.end(),
                              [&](const auto &e) { return e.first == &t; }));
    for (int32_t i = 0; !known && i < desc.num_params; ++i)
      known = t.name == desc.params[i].name;
    if (!known)
      return fail(MIXER_ERROR_SHAPE, "%s: unexpected tensor '%s' (not a parameter of %s%s)", path,
                  t.name.c_str(), desc.name,
                  starts_with(t.name, kOptimizerPrefix) ? " or its optimizer's state" : "");
  }
  for (int32_t i = 0; i < desc.num_params; ++i) {
    const TensorView *t = sources[size_t(i)];
    if (!t)
      continue;
    if (desc.params[i].element == ElementType::I64)
      std::memcpy(model->params[size_t(i)], t->data, t->bytes);
    else
      copy_as_f32(*t, model->params[size_t(i)]);
  }
  model->gradients_pending = false; // computed for the weights just replaced
  if (mixer_status status = model->repack())
    return status;
  if (desc.train) {
    model->reset_optimizer_state();
    for (const auto &[t, target] : state)
      copy_as_f32(*t, target);
    model->optimizer_step = steps_taken;
    model->optimizer = kind;
  }
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
                       model->params[size_t(i)]});
  }
  if (desc.train && model->optimizer_step > 0) {
    tensors.push_back({kStepName, "I64", {}, &model->optimizer_step});
    std::vector<std::string> prefixes = state_prefixes(model->optimizer);
    for (size_t m = 0; m < prefixes.size(); ++m)
      for (int32_t i = 0; i < desc.num_params; ++i) {
        const ParamDesc &param = desc.params[i];
        if (param.trainable)
          tensors.push_back({prefixes[m] + param.name, "F32",
                             std::vector<int64_t>(param.shape, param.shape + param.rank),
                             (m == 0 ? model->moment1 : model->moment2).get() +
                                 model->offsets[size_t(i)]});
      }
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
  return model->activations.reserve(desc.name, desc.activation_elems_per_image,
                                    desc.num_activations, model->images_per_chunk(batch));
}

} // namespace

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

namespace {

/// Runs the kernel sequence chunk by chunk (ModelDesc::images_per_chunk); per-step times add up.
mixer_status run_chunks(Model *model, const float *images, int64_t batch, float *logits,
                        double *seconds) {
  const ModelDesc &desc = *model->desc;
  const int64_t chunk = model->images_per_chunk(batch);
  const int64_t image_elems = desc.input_shape[0] * desc.input_shape[1] * desc.input_shape[2];
  std::vector<double> chunk_seconds(seconds ? size_t(desc.num_steps) : 0);
  for (int64_t start = 0; start < batch; start += chunk) {
    const int64_t n = std::min(chunk, batch - start);
    StepIO io;
    io.images = images + start * image_elems;
    io.output = logits + start * desc.num_classes;
    io.activations = &model->activations;
    if (mixer_status s = run_steps(model, desc.steps, desc.num_steps, io, n,
                                   seconds ? chunk_seconds.data() : nullptr))
      return s;
    for (size_t i = 0; i < chunk_seconds.size(); ++i)
      seconds[i] += chunk_seconds[i];
  }
  return MIXER_OK;
}

} // namespace

/// Runs a step sequence; with `seconds`, times each step into it.
mixer_status run_steps(Model *model, const StepDesc *steps, int32_t num_steps, const StepIO &io,
                       int64_t batch, double *seconds) {
  const ModelDesc &desc = *model->desc;
  halide_buffer_t buffers[16];
  halide_dimension_t dims[16][kMaxRank];
  void *argv[16];
  for (int32_t s = 0; s < num_steps; ++s) {
    const StepDesc &step = steps[s];
    for (int32_t a = 0; a < step.num_args; ++a) {
      const ArgDesc &arg = step.args[a];
      void *host = nullptr;
      halide_type_t type = kFloat32;
      switch (arg.kind) {
      case SlotKind::Param: host = model->params[size_t(arg.index)]; break;
      case SlotKind::Packed: host = model->packed[size_t(arg.index)].get(); break;
      case SlotKind::Input: host = const_cast<float *>(io.images); break;
      case SlotKind::Output: host = io.output; break;
      case SlotKind::Activation: host = io.activations->slots[size_t(arg.index)].get(); break;
      case SlotKind::Grad: host = model->grads.get() + model->offsets[size_t(arg.index)]; break;
      case SlotKind::Labels:
        host = const_cast<int32_t *>(io.labels);
        type = halide_type_t(halide_type_int, 32, 1);
        break;
      case SlotKind::Hyper: host = const_cast<float *>(io.hyper); break;
      }
      for (int d = 0; d < arg.rank; ++d) {
        const DimDesc &dim = arg.dims[d];
        dims[a][d] = {0, int32_t(dim.batch_scaled ? dim.extent * batch : dim.extent),
                      int32_t(dim.stride), 0};
      }
      buffers[a] = describe(host, type, dims[a], arg.rank);
      argv[a] = &buffers[a];
    }
    std::chrono::steady_clock::time_point start;
    if (seconds) // plain inference reads no clock
      start = std::chrono::steady_clock::now();
    mixer_status status = call_kernel(desc, step.kernel, argv, step.label);
    if (seconds)
      seconds[s] =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (status != MIXER_OK)
      return status;
  }
  return MIXER_OK;
}

/// Calls a kernel on flat buffers (the optimizers): argv is `buffers` in order.
mixer_status run_flat_kernel(Model *model, int32_t kernel, const std::vector<void *> &hosts,
                             const std::vector<int64_t> &extents) {
  std::vector<halide_buffer_t> buffers(hosts.size());
  std::vector<halide_dimension_t> dims(hosts.size());
  std::vector<void *> argv(hosts.size());
  for (size_t a = 0; a < hosts.size(); ++a) {
    dims[a] = {0, int32_t(extents[a]), 1, 0};
    buffers[a] = describe(hosts[a], kFloat32, &dims[a], 1);
    argv[a] = &buffers[a];
  }
  return call_kernel(*model->desc, kernel, argv.data(), "the parameter update");
}

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
