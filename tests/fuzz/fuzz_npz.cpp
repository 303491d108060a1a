// libFuzzer target: the .npz reader of mixerc convert (zip directory, zip64 fields, stored and
// deflated members, .npy headers) on any bytes. An accepted array holds what its shape says.
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "driver/Npz.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  std::map<std::string, mixerc::NpyArray> arrays;
  std::string error;
  if (!mixerc::parseNpz(std::vector<uint8_t>(data, data + size), "fuzz.npz", &arrays, &error))
    return 0;
  for (const auto &[name, array] : arrays) {
    uint64_t count = 1;
    for (int64_t d : array.shape)
      count *= uint64_t(d);
    if (count != array.values.size())
      __builtin_trap();
  }
  return 0;
}
