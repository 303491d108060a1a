// Weight tensors of other floating-point dtypes, converted to the f32 the kernels read: F16 and
// BF16 widen exactly; F64 rounds to nearest (as PyTorch's .float()), and a finite value beyond
// f32's range is refused rather than turned into infinity.
#ifndef MIXER_RUNTIME_CONVERT_H
#define MIXER_RUNTIME_CONVERT_H

#include "mixer/runtime.h"
#include "safetensors.h"

namespace mixer::rt {

/// IEEE binary16 to binary32, exactly (subnormals, infinities and NaNs included).
float half_to_float(uint16_t h);

/// Whether a tensor of `dtype` can stand for an F32 parameter.
bool converts_to_f32(const std::string &dtype);

/// Refuses an F64 tensor holding a finite value that f32 cannot hold, naming the file, the
/// tensor and the element; other dtypes always pass.
mixer_status check_f32_range(const char *path, const TensorView &t);

/// Writes `t`'s elements as f32 into `out` (t.bytes / its element size of them).
void copy_as_f32(const TensorView &t, float *out);

} // namespace mixer::rt

#endif
