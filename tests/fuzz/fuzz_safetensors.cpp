// libFuzzer target: the safetensors reader (header length, JSON header, tensor entries and the
// layout check) on any bytes. A file it accepts must have every tensor's bytes inside the file.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  mixer::rt::SafetensorsFile file;
  if (mixer::rt::parse_safetensors(std::vector<uint8_t>(data, data + size), "fuzz.safetensors",
                                   &file) != MIXER_OK)
    return 0;
  const uint8_t *begin = file.contents.data(), *end = begin + file.contents.size();
  for (const mixer::rt::TensorView &t : file.tensors)
    if (t.data < begin || t.data + t.bytes > end)
      __builtin_trap();
  return 0;
}
