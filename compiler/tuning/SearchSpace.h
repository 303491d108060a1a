// The record space a tuner searches, per schedule family: every record it yields is valid for
// the kernel (validGemmSchedule), and the default template's record is not among them.
#ifndef MIXERC_TUNING_SEARCHSPACE_H
#define MIXERC_TUNING_SEARCHSPACE_H

#include <cstdint>
#include <string>
#include <vector>

#include "lower/KernelPlan.h"
#include "schedule/GemmSchedule.h"

namespace mixerc {

/// GEMM records around the default: micro-tile rows and (token mixing, whose B is not packed)
/// panel widths that fit the register file, row tiles per task, column panels per task, the
/// panel loop inside or outside the row tiles, k unrolled 1-8 times; in an order shuffled by
/// `seed`, each record's text once.
std::vector<std::string> gemmCandidates(const KernelSignature &signature,
                                        const VectorMachine &machine, uint64_t seed);

} // namespace mixerc

#endif
