// What a model may allocate: sizes are checked against the memory this process can have before
// anything is allocated, so that an absurd size is a status naming it rather than an allocation
// that succeeds lazily (Linux overcommits) and gets the process killed when it is first touched.
#ifndef MIXER_RUNTIME_MEMORY_H
#define MIXER_RUNTIME_MEMORY_H

#include <cstdint>

#include "mixer/runtime.h"

namespace mixer::rt {

/// Bytes this process can still allocate: the least of the machine's physical memory, its
/// cgroup's limit (containers) and what its address-space limit (ulimit -v) leaves.
double available_memory_bytes();

/// MIXER_OK when `bytes` fit in available_memory_bytes(); else MIXER_ERROR_OUT_OF_MEMORY with
/// "<who>: <what> needs N GB, more than the M GB this process can have".
mixer_status check_fits(double bytes, const char *who, const char *what);

} // namespace mixer::rt

#endif
