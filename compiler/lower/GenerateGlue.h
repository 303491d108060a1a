// The generated sources of a library: the C header and the glue that hands the model table to the
// runtime (see GenerateGlue.cpp).
#ifndef MIXERC_LOWER_GENERATEGLUE_H
#define MIXERC_LOWER_GENERATEGLUE_H

#include <cstdint>
#include <string>

#include "lower/KernelPlan.h"

namespace mixerc {

/// NAME.h: the public C API of the library.
std::string generateHeader(const KernelPlan &plan);

/// NAME_model.cpp: the ModelDesc table and the exported functions; `planHash` becomes
/// mixer_model_info::plan_hash (EmitLibrary hashes the glue made with 0 and the kernel objects).
std::string generateGlue(const KernelPlan &plan, uint64_t planHash);

/// The symbol of kernel `index` (hidden in the library by its version script).
std::string kernelSymbol(const KernelPlan &plan, size_t index);

} // namespace mixerc

#endif
