// Halide kernel families: each turns a KernelSignature into a Halide pipeline (algorithm, then
// schedule) whose arguments are, in order, the step's buffers as the lowering lays them out.
#ifndef MIXERC_KERNELS_KERNELS_H
#define MIXERC_KERNELS_KERNELS_H

#include <vector>

#include <Halide.h>

#include "lower/KernelPlan.h"
#include "schedule/DepthwiseSchedule.h"
#include "schedule/GemmSchedule.h"

namespace mixerc {

struct BuiltKernel {
  Halide::Pipeline pipeline;
  std::vector<Halide::Argument> arguments; ///< inputs in step order; the output is the pipeline's
};

/// `record` is the kernel's schedule record (KernelPlan::schedules), "" for the family's default
/// template; checkScheduleRecord must have accepted it.
BuiltKernel buildKernel(const KernelSignature &signature, const Halide::Target &target,
                        const std::string &record = "");

/// Whether `record` is a valid schedule of `signature` for `target` (the GEMM and depthwise
/// families' schedules are records: schedule/GemmSchedule.h, DepthwiseSchedule.h). False with the
/// reason.
bool checkScheduleRecord(const KernelSignature &signature, const Halide::Target &target,
                         const std::string &record, std::string *error);

/// The schedule family a kernel's records belong to ("gemm", "depthwise"), "" where it has no
/// record yet.
const char *scheduleFamily(const KernelSignature &signature);

/// The default template's record of a kernel with a schedule family, "" for the others.
std::string defaultScheduleRecord(const KernelSignature &signature, const VectorMachine &machine);

// The families (one file each).
BuiltKernel buildGemmKernel(const KernelSignature &signature, const Halide::Target &target,
                            const GemmSchedule &schedule);
BuiltKernel buildDepthwiseKernel(const KernelSignature &signature, const Halide::Target &target,
                                 const DepthwiseSchedule &schedule);
BuiltKernel buildLayerNormKernel(const KernelSignature &signature, const Halide::Target &target);
BuiltKernel buildPoolKernel(const KernelSignature &signature, const Halide::Target &target);
BuiltKernel buildWeightGradKernel(const KernelSignature &signature, const Halide::Target &target);
BuiltKernel buildTrainingKernel(const KernelSignature &signature, const Halide::Target &target);
BuiltKernel buildConvTrainingKernel(const KernelSignature &signature,
                                    const Halide::Target &target);

/// The vector shape of a Halide target, for the schedule templates.
VectorMachine vectorMachine(const Halide::Target &target);

/// Pins dimension d of a buffer parameter to [0, extent) with the given stride; extent <= 0 leaves
/// it to run time (the batch).
void pinDim(Halide::OutputImageParam buffer, int d, int64_t extent, int64_t stride);

// The buffer views of the lowering (lower/LowerMixerToKernels.cpp) as f32 inputs.
/// (width, rows): a batch of rows, dense.
Halide::ImageParam rowsParam(const char *name, int64_t width);
/// (extent): a parameter vector.
Halide::ImageParam vectorParam(const char *name, int64_t extent);
/// (channels, tokens, batch).
Halide::ImageParam cubeParam(const char *name, int64_t channels, int64_t tokens);

/// Rows per parallel block of scheduleColumnSum.
inline constexpr int kColumnSumRowsPerBlock = 64;

/// A column sum f(c) += g(c, r) over rows r: partial sums over blocks of kColumnSumRowsPerBlock
/// rows in parallel, then their sum; vectorised along c (the caller decides where f is computed).
/// Returns the partial sums, partial(c, block), for the caller to compute the blocks' inputs at
/// (or fuse with a loop over the same blocks, which must then be named like `block`).
Halide::Func scheduleColumnSum(Halide::Func f, Halide::Var c, Halide::RDom r, int lanes,
                               Halide::Var block = Halide::Var("block"));

} // namespace mixerc

#endif
