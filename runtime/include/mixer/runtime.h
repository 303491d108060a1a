/* mixer/runtime.h: the types every mixerc-generated library shares.
 *
 * A library generated from a spec named NAME exports NAME_create, NAME_destroy, NAME_infer, ...
 * (declared in the generated NAME.h) plus the two unprefixed functions below. The unprefixed ones
 * are the same code in every library, so when several models are linked into one program the
 * dynamic linker binds them to one copy and they share one thread-local error slot.
 *
 * Ownership: what NAME_create returns belongs to the caller, who must release it with
 * NAME_destroy. No function keeps a pointer it was passed beyond its return.
 * Thread safety: distinct models may be used from distinct threads at the same time; one model must
 * not be used from two threads at once. The error message is thread-local.
 */
#ifndef MIXER_RUNTIME_H
#define MIXER_RUNTIME_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(MIXER_BUILDING_LIBRARY)
#define MIXER_API __attribute__((visibility("default")))
#else
#define MIXER_API
#endif

/** Bumped whenever a struct below or the calling convention of generated functions changes. */
#define MIXER_ABI_VERSION 3

typedef enum mixer_status {
  MIXER_OK = 0,
  MIXER_ERROR_INVALID_ARGUMENT = 1, /* a NULL pointer, batch <= 0, a bad option */
  MIXER_ERROR_IO = 2,               /* a file could not be opened, read, written or renamed */
  MIXER_ERROR_FORMAT = 3,           /* a file is not what it claims to be (bad header, truncated) */
  MIXER_ERROR_SHAPE = 4,            /* a tensor is missing, extra, mis-shaped or mis-typed */
  MIXER_ERROR_OUT_OF_MEMORY = 5,
  MIXER_ERROR_DEVICE = 6,           /* a kernel failed on its device */
  MIXER_ERROR_UNSUPPORTED = 7,      /* ABI mismatch, a target or feature this library lacks */
  MIXER_ERROR_INTERNAL = 8          /* a bug in mixerc: please report it */
} mixer_status;

typedef enum mixer_device {
  MIXER_DEVICE_CPU = 0,
  MIXER_DEVICE_CUDA = 1 /* only in libraries compiled with a cuda target */
} mixer_device;

/** Static facts of a compiled model, from NAME_info(). */
typedef struct mixer_model_info {
  int32_t abi_version;
  const char *name;
  const char *family; /* "mlp_mixer", ... */
  int64_t channels, height, width, classes;
  int64_t num_parameters;
  double flops_per_image; /* forward pass, multiply-adds counted as 2 */
  /* FNV-1a hash of the compiled plan: the model table (parameters, kernels, steps, buffer shapes)
   * and every kernel's object code for its target. Two libraries with equal hashes run the same
   * computation; data-parallel trainers compare it across processes before the first step. */
  uint64_t plan_hash;
} mixer_model_info;

/** One step of a profiled inference (NAME_profile): a kernel call and what it cost. */
typedef struct mixer_step_profile {
  const char *label;  /* the model module this step computes, e.g. "blocks.0.0.fn.0" */
  const char *kernel; /* the compiled kernel's signature; steps of equal signature share it */
  double seconds;     /* wall time of the call */
  double flops;       /* multiply-adds x 2 at this batch (0 for memory-only kernels) */
  double bytes;       /* bytes of the distinct buffers the step reads and writes at this batch */
} mixer_step_profile;

/** Options for NAME_create. Always initialise with mixer_options_init, then change fields. */
typedef struct mixer_options {
  uint32_t abi_version; /* set by mixer_options_init; a mismatch is refused */
  uint64_t seed;        /* seeds the weight initialisation; default 0 */
  int32_t num_threads;  /* worker threads for this library's kernels; 0 = all cores */
  mixer_device device;  /* default MIXER_DEVICE_CPU */
} mixer_options;

static inline void mixer_options_init(mixer_options *opts) {
  opts->abi_version = MIXER_ABI_VERSION;
  opts->seed = 0;
  opts->num_threads = 0;
  opts->device = MIXER_DEVICE_CPU;
}

/** The optimizer a train step applies (DESIGN.md, Training). */
typedef enum mixer_optimizer {
  MIXER_OPTIMIZER_ADAMW = 0, /* torch.optim.AdamW: decoupled weight decay, bias-corrected moments */
  MIXER_OPTIMIZER_SGD = 1    /* torch.optim.SGD with momentum (no dampening, no Nesterov); weight
                                decay is added to the gradient, as PyTorch does */
} mixer_optimizer;

/** Options of one NAME_train_step. Always initialise with mixer_train_options_init. The learning
 * rate schedule is the caller's: pass this step's rate. Every parameter is updated, with weight
 * decay on all of them (torch.optim's default param group). */
typedef struct mixer_train_options {
  uint32_t abi_version;      /* set by mixer_train_options_init; a mismatch is refused */
  mixer_optimizer optimizer; /* default AdamW */
  float learning_rate;       /* default 1e-3 */
  float weight_decay;        /* default 0.01 (AdamW's PyTorch default) */
  float beta1, beta2, eps;   /* AdamW: defaults 0.9, 0.999, 1e-8 */
  float momentum;            /* SGD: default 0.9 */
  float label_smoothing;     /* in [0, 1): cross-entropy against (1 - s) onehot + s / classes */
} mixer_train_options;

static inline void mixer_train_options_init(mixer_train_options *opts) {
  opts->abi_version = MIXER_ABI_VERSION;
  opts->optimizer = MIXER_OPTIMIZER_ADAMW;
  opts->learning_rate = 1e-3f;
  opts->weight_decay = 0.01f;
  opts->beta1 = 0.9f;
  opts->beta2 = 0.999f;
  opts->eps = 1e-8f;
  opts->momentum = 0.9f;
  opts->label_smoothing = 0.0f;
}

/** The message of the last failed call on this thread; "" if none. Valid until the next call. */
MIXER_API const char *mixer_last_error(void);

/** Internal: the thread-local slot mixer_last_error reads. Exported only so that all libraries in
 * a process share one slot; not for callers. */
MIXER_API char *mixer_runtime_error_slot(size_t *out_capacity);

#ifdef __cplusplus
}
#endif
#endif /* MIXER_RUNTIME_H */
