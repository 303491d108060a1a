// Floating-point dtype conversion of weight tensors (see convert.h).
#include "convert.h"

#include <cfloat>
#include <cmath>
#include <cstring>

#include "error.h"

namespace mixer::rt {
namespace {

float from_bits(uint32_t bits) {
  float f;
  std::memcpy(&f, &bits, sizeof f);
  return f;
}

} // namespace

float half_to_float(uint16_t h) {
  const uint32_t sign = uint32_t(h & 0x8000) << 16;
  const uint32_t exponent = (h >> 10) & 0x1f, mantissa = h & 0x3ff;
  if (exponent == 0x1f)
    return from_bits(sign | 0x7f800000u | (mantissa << 13));
  if (exponent != 0)
    return from_bits(sign | ((exponent + 112) << 23) | (mantissa << 13));
  // Zero or subnormal: mantissa x 2^-24, exact in f32.
  const float magnitude = std::ldexp(float(mantissa), -24);
  return sign ? -magnitude : magnitude;
}

bool converts_to_f32(const std::string &dtype) {
  return dtype == "F32" || dtype == "F16" || dtype == "BF16" || dtype == "F64";
}

mixer_status check_f32_range(const char *path, const TensorView &t) {
  if (t.dtype != "F64")
    return MIXER_OK;
  for (size_t i = 0; i < t.bytes / sizeof(double); ++i) {
    double v;
    std::memcpy(&v, t.data + i * sizeof(double), sizeof v);
    if (std::isfinite(v) && std::fabs(v) > double(FLT_MAX))
      return fail(MIXER_ERROR_FORMAT,
                  "%s: tensor '%s' element %zu is %g, beyond the f32 range the model computes in",
                  path, t.name.c_str(), i, v);
  }
  return MIXER_OK;
}

void copy_as_f32(const TensorView &t, float *out) {
  if (t.dtype == "F32") {
    std::memcpy(out, t.data, t.bytes);
  } else if (t.dtype == "F64") {
    for (size_t i = 0; i < t.bytes / 8; ++i) {
      double v;
      std::memcpy(&v, t.data + 8 * i, 8);
      out[i] = float(v);
    }
  } else { // F16, BF16: two bytes each, little-endian
    const bool bf16 = t.dtype == "BF16";
    for (size_t i = 0; i < t.bytes / 2; ++i) {
      const uint16_t bits = uint16_t(t.data[2 * i] | (t.data[2 * i + 1] << 8));
      out[i] = bf16 ? from_bits(uint32_t(bits) << 16) : half_to_float(bits);
    }
  }
}

} // namespace mixer::rt
