// Reading and writing safetensors files (https://github.com/huggingface/safetensors): an 8-byte
// little-endian header length, a JSON header mapping tensor names to dtype, shape and byte offsets,
// then the raw data. Reading checks the whole structure before anything is returned; writing goes to
// an unnamed file in the same directory (O_TMPFILE: a killed writer leaves nothing), named and
// renamed over the target only once it is complete.
#ifndef MIXER_RUNTIME_SAFETENSORS_H
#define MIXER_RUNTIME_SAFETENSORS_H

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "mixer/runtime.h"

namespace mixer::rt {

struct TensorView {
  std::string name;
  std::string dtype; ///< "F32", "I64", ... as written in the file
  std::vector<int64_t> shape;
  const uint8_t *data = nullptr;
  size_t bytes = 0;
};

struct SafetensorsFile {
  std::vector<uint8_t> contents;
  std::vector<TensorView> tensors; ///< views into contents, in header order
  std::map<std::string, std::string> metadata;

  const TensorView *find(const std::string &name) const;
};

/// Reads and validates `path`; on failure records a message naming the file and the problem.
mixer_status read_safetensors(const char *path, SafetensorsFile *out);

/// Validates the bytes of a file (read_safetensors' second half; the fuzzers call it directly).
mixer_status parse_safetensors(std::vector<uint8_t> contents, const char *path,
                               SafetensorsFile *out);

struct TensorToWrite {
  std::string name;
  std::string dtype; ///< "F32" or "I64"
  std::vector<int64_t> shape;
  const void *data;
};

/// Writes all tensors to `path` atomically (unnamed file, fsync, link, rename); first removes
/// "<path>.tmp.<pid>" files of writers that no longer run.
mixer_status write_safetensors(const char *path, const std::vector<TensorToWrite> &tensors,
                               const std::map<std::string, std::string> &metadata);

/// Bytes per element of a safetensors dtype name, 0 when unknown.
size_t dtype_size(const std::string &dtype);

} // namespace mixer::rt

#endif
