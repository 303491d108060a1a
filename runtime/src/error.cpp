// The thread-local error slot shared by every mixerc library in a process (see mixer/runtime.h).
#include "error.h"

#include <cstdarg>
#include <cstdio>

#include "mixer/model_api.h"

namespace {
constexpr size_t kCapacity = 1024;
thread_local char error_slot[kCapacity];
} // namespace

extern "C" MIXER_API char *mixer_runtime_error_slot(size_t *out_capacity) {
  if (out_capacity)
    *out_capacity = kCapacity;
  return error_slot;
}

extern "C" MIXER_API const char *mixer_last_error(void) { return mixer_runtime_error_slot(nullptr); }

namespace mixer::rt {

void clear_error() { mixer_runtime_error_slot(nullptr)[0] = '\0'; }

mixer_status fail(mixer_status status, const char *format, ...) {
  size_t capacity = 0;
  char *slot = mixer_runtime_error_slot(&capacity);
  va_list args;
  va_start(args, format);
  std::vsnprintf(slot, capacity, format, args);
  va_end(args);
  return status;
}

} // namespace mixer::rt
