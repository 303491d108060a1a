// FNV-1a, 64 bits: the stable hash of the plan hash (lower/EmitLibrary) and of the checks that
// the ranks of a distributed run agree (driver/Train). Not for security.
#ifndef MIXERC_SUPPORT_HASH_H
#define MIXERC_SUPPORT_HASH_H

#include <cstddef>
#include <cstdint>

namespace mixerc {

inline constexpr uint64_t kFnvOffset = 0xcbf29ce484222325ull;

/// FNV-1a over `size` bytes, continued from `hash`.
inline uint64_t fnv1a(const void *data, size_t size, uint64_t hash = kFnvOffset) {
  const unsigned char *bytes = static_cast<const unsigned char *>(data);
  for (size_t i = 0; i < size; ++i)
    hash = (hash ^ bytes[i]) * 0x100000001b3ull;
  return hash;
}

} // namespace mixerc

#endif
