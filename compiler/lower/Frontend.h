// The compiler's front half behind a plain interface (no MLIR types): spec -> mixer dialect ->
// passes (shape inference, fusion) -> kernel plan. Diagnostics come back as text.
#ifndef MIXERC_LOWER_FRONTEND_H
#define MIXERC_LOWER_FRONTEND_H

#include <string>

#include "lower/KernelPlan.h"
#include "schedule/GemmSchedule.h"
#include "spec/Spec.h"

namespace mixerc {

/// The module after shape inference and fusion, printed in the dialect's textual form.
bool emitMixerModule(const ModelSpec &spec, std::string *text, std::string *error);

/// `machine` is the target's vector shape: it fixes the packed weight layouts.
bool planModel(const ModelSpec &spec, const VectorMachine &machine, KernelPlan *plan,
               std::string *error);

} // namespace mixerc

#endif
