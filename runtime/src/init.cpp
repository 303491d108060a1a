// Parameter initialisers matching timm's (see init.h for the determinism contract).
#include "init.h"

#include <cmath>

namespace mixer::rt {
namespace {

/// SplitMix64: a small, well-mixed generator; good enough for initial weights and reproducible.
struct Random {
  uint64_t state;
  uint64_t next() {
    uint64_t z = (state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  double uniform() { return double(next() >> 11) * 0x1.0p-53; } // [0, 1)
  double normal() {                                             // Box-Muller
    double u1 = 1.0 - uniform(), u2 = uniform();
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
  }
};

} // namespace

int64_t element_count(const ParamDesc &param) {
  int64_t n = 1;
  for (int i = 0; i < param.rank; ++i)
    n *= param.shape[i];
  return n;
}

void initialise_param(const ParamDesc &param, uint64_t seed, int32_t index, float *values) {
  Random random{seed * 0x100000001B3ull ^ (uint64_t(index) + 1) * 0xC2B2AE3D27D4EB4Full};
  const int64_t n = element_count(param);
  switch (param.init) {
  case InitKind::Zeros:
    for (int64_t i = 0; i < n; ++i)
      values[i] = 0.0f;
    break;
  case InitKind::Ones:
    for (int64_t i = 0; i < n; ++i)
      values[i] = 1.0f;
    break;
  case InitKind::XavierUniform: {
    double bound = std::sqrt(6.0 / double(param.fan_in + param.fan_out));
    for (int64_t i = 0; i < n; ++i)
      values[i] = float((2.0 * random.uniform() - 1.0) * bound);
    break;
  }
  case InitKind::LecunNormal: {
    // timm's lecun_normal_: truncated normal on [-2, 2] std units, rescaled so the std is exact.
    double std = std::sqrt(1.0 / double(param.fan_in)) / 0.87962566103423978;
    for (int64_t i = 0; i < n; ++i) {
      double z;
      do
        z = random.normal();
      while (z < -2.0 || z > 2.0);
      values[i] = float(z * std);
    }
    break;
  }
  case InitKind::UniformFanIn: {
    double bound = 1.0 / std::sqrt(double(param.fan_in));
    for (int64_t i = 0; i < n; ++i)
      values[i] = float((2.0 * random.uniform() - 1.0) * bound);
    break;
  }
  case InitKind::Normal:
    for (int64_t i = 0; i < n; ++i)
      values[i] = float(random.normal() * param.init_std);
    break;
  }
}

} // namespace mixer::rt
