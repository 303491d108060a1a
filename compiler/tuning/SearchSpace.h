// The record space a tuner searches, per schedule family: every record it yields is valid for
// the kernel (validGemmSchedule, validDepthwiseSchedule), and the default template's record is not
// among them.
#ifndef MIXERC_TUNING_SEARCHSPACE_H
#define MIXERC_TUNING_SEARCHSPACE_H

#include <cstdint>
#include <string>
#include <vector>

#include "lower/KernelPlan.h"
#include "schedule/DepthwiseSchedule.h"
#include "schedule/GemmSchedule.h"

namespace mixerc {

/// GEMM records around the default: micro-tile rows and (token mixing, whose B is not packed)
/// panel widths that fit the register file, row tiles per task, column panels per task, the
/// panel loop inside or outside the row tiles, k unrolled 1-8 times; in an order shuffled by
/// `seed`, each record's text once.
std::vector<std::string> gemmCandidates(const KernelSignature &signature,
                                        const VectorMachine &machine, uint64_t seed);

/// Depthwise records around the default: 1-4 channel vectors x 1-12 pixels per register tile
/// (within the register file), tasks of all the channels or of any multiple of the tile that
/// divides them, and of 1 row up to the whole grid; shuffled by `seed`.
std::vector<std::string> depthwiseCandidates(const KernelSignature &signature,
                                             const VectorMachine &machine, uint64_t seed);

/// The candidates of the kernel's schedule family (scheduleFamily), none for a kernel without.
std::vector<std::string> scheduleCandidates(const KernelSignature &signature,
                                            const VectorMachine &machine, uint64_t seed);

} // namespace mixerc

#endif
