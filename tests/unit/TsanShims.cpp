// Linked into the ThreadSanitizer build of the API tests only (tools/sanitize.sh): Halide 21's
// LLVM instruments memory intrinsics as calls to __tsan_memcpy / __tsan_memset, which the TSan
// runtime of Debian's clang 14 predates. They forward to memcpy / memset, which TSan intercepts,
// so the accesses are still checked.
#include <cstddef>
#include <cstring>

extern "C" void *__tsan_memcpy(void *to, const void *from, size_t n) {
  return std::memcpy(to, from, n);
}
extern "C" void *__tsan_memset(void *to, int value, size_t n) {
  return std::memset(to, value, n);
}
