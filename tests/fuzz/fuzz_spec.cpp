// libFuzzer target: the spec parser (TOML through toml++ and the spec's validation) on any
// bytes. Every input must give a spec or an error message; nothing may crash, hang or leak.
#include <cstddef>
#include <cstdint>
#include <string>

#include "spec/Spec.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  mixerc::ModelSpec spec;
  std::string error;
  const bool ok =
      mixerc::parseSpecString(std::string(reinterpret_cast<const char *>(data), size),
                              "fuzz.toml", &spec, &error);
  if (!ok && error.empty())
    __builtin_trap(); // a refusal must say why
  return 0;
}
