// mixer dialect (shape-inferred, fused) -> kernel plan: one kernel per distinct fused op signature,
// one step per op, activation slots reused once their last reader has run.
#ifndef MIXERC_LOWER_LOWERMIXERTOKERNELS_H
#define MIXERC_LOWER_LOWERMIXERTOKERNELS_H

#include <string>

#include "mlir/Dialect/Func/IR/FuncOps.h"

#include "lower/KernelPlan.h"
#include "schedule/GemmSchedule.h"

namespace mixerc {

/// Fails (with a diagnostic on the offending op) on ops that are not fused or not lowerable.
mlir::LogicalResult lowerMixerToKernels(mlir::func::FuncOp function, const VectorMachine &machine,
                                        KernelPlan *plan);

} // namespace mixerc

#endif
