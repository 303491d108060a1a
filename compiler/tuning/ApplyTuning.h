// mixerc compile --tuning-db: each kernel of a plan takes the best valid record the database holds
// for it on the compile target and this CPU, where that record beat the default template
// measured in the same round; every other kernel keeps its default template.
#ifndef MIXERC_TUNING_APPLYTUNING_H
#define MIXERC_TUNING_APPLYTUNING_H

#include <string>

#include "lower/KernelPlan.h"

namespace mixerc {

struct TuningApplied {
  int tuned = 0;           ///< kernels that use a tuned record
  int default_fastest = 0; ///< kernels whose records did not beat the default
  int without_records = 0; ///< tunable kernels with no record for this target and CPU
  int untunable = 0;       ///< kernels whose family has no schedule records
};

/// `target` is a Halide target string (targetString()). Fills plan->schedules.
bool applyTuningDb(KernelPlan *plan, const std::string &dbPath, const std::string &target,
                   TuningApplied *applied, std::string *error);

/// A record must beat the default by this factor to replace it (below it is noise).
inline constexpr double kTunedMinimumGain = 1.02;

} // namespace mixerc

#endif
