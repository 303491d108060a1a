// Deterministic parameter initialisation: one counter-based random stream per (seed, parameter),
// so a parameter's initial values depend only on the seed and its index, never on thread timing.
#ifndef MIXER_RUNTIME_INIT_H
#define MIXER_RUNTIME_INIT_H

#include <cstdint>

#include "mixer/model_desc.h"

namespace mixer::rt {

int64_t element_count(const ParamDesc &param);

/// Fills `values` (element_count(param) floats) as `param.init` says.
void initialise_param(const ParamDesc &param, uint64_t seed, int32_t index, float *values);

} // namespace mixer::rt

#endif
