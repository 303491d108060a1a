// Recording failures: every fallible runtime function returns fail(status, fmt, ...), which stores
// the formatted message in the thread-local slot that mixer_last_error() reads.
#ifndef MIXER_RUNTIME_ERROR_H
#define MIXER_RUNTIME_ERROR_H

#include "mixer/runtime.h"

namespace mixer::rt {

[[gnu::format(printf, 2, 3)]] mixer_status fail(mixer_status status, const char *format, ...);

} // namespace mixer::rt

#endif
