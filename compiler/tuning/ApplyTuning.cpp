// mixerc compile --tuning-db (see ApplyTuning.h).
#include "tuning/ApplyTuning.h"

#include <fmt/format.h>

#include "kernels/Kernels.h"
#include "tuning/TuningDb.h"

namespace mixerc {

bool applyTuningDb(KernelPlan *plan, const std::string &dbPath, const std::string &target,
                   TuningApplied *applied, std::string *error) {
  std::unique_ptr<TuningDb> db = TuningDb::open(dbPath, /*create=*/false, error);
  if (!db)
    return false;
  const Halide::Target halideTarget(target);
  const std::string cpu = hostCpuModel();
  *applied = {};
  plan->schedules.assign(plan->kernels.size(), "");
  for (size_t i = 0; i < plan->kernels.size(); ++i) {
    const KernelSignature &sig = plan->kernels[i];
    if (!*scheduleFamily(sig)) {
      ++applied->untunable;
      continue;
    }
    TuningRecord best;
    bool found = false;
    if (!db->best(sig.key(), target, cpu, &best, &found, error))
      return false;
    if (!found) {
      ++applied->without_records;
      continue;
    }
    if (best.family != scheduleFamily(sig) ||
        !checkScheduleRecord(sig, halideTarget, best.params, error)) {
      *error = fmt::format("{}: the record of kernel {} is not a schedule of it: {}", dbPath,
                           sig.key(), best.family != scheduleFamily(sig)
                                          ? fmt::format("family '{}'", best.family)
                                          : *error);
      return false;
    }
    if (best.median_ms * kTunedMinimumGain > best.default_ms) {
      ++applied->default_fastest;
      continue;
    }
    plan->schedules[i] = best.params;
    ++applied->tuned;
  }
  return true;
}

} // namespace mixerc
