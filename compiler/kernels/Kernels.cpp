// Dispatch from a kernel signature to its family, and buffer pinning shared by the families.
#include "kernels/Kernels.h"

#include <fmt/format.h>

namespace mixerc {

void pinDim(Halide::OutputImageParam buffer, int d, int64_t extent, int64_t stride) {
  buffer.dim(d).set_min(0).set_stride(int(stride));
  if (extent > 0)
    buffer.dim(d).set_extent(int(extent));
}

Halide::ImageParam rowsParam(const char *name, int64_t width) {
  Halide::ImageParam p(Halide::Float(32), 2, name);
  pinDim(p, 0, width, 1);
  pinDim(p, 1, 0, width);
  return p;
}

Halide::ImageParam vectorParam(const char *name, int64_t extent) {
  Halide::ImageParam p(Halide::Float(32), 1, name);
  pinDim(p, 0, extent, 1);
  return p;
}

Halide::ImageParam cubeParam(const char *name, int64_t channels, int64_t tokens) {
  Halide::ImageParam p(Halide::Float(32), 3, name);
  pinDim(p, 0, channels, 1);
  pinDim(p, 1, tokens, channels);
  pinDim(p, 2, 0, channels * tokens);
  return p;
}

Halide::Func scheduleColumnSum(Halide::Func f, Halide::Var c, Halide::RDom r, int lanes,
                               Halide::Var block) {
  using namespace Halide;
  // Rows are summed in blocks, one task per block, into partial(c, block), then the blocks are
  // added up: each task streams whole contiguous rows. (Parallel over blocks of columns instead,
  // every task read a few lines of each row, 20 GB/s against a 46 GB/s probe.)
  RVar ro("ro"), ri("ri");
  Func partial = f.update().split(r.x, ro, ri, kColumnSumRowsPerBlock).rfactor(ro, block);
  f.vectorize(c, lanes, TailStrategy::GuardWithIf);
  f.update().vectorize(c, lanes, TailStrategy::GuardWithIf);
  partial.compute_root().vectorize(c, lanes, TailStrategy::GuardWithIf).parallel(block);
  partial.update()
      .reorder(c, ri, block)
      .vectorize(c, lanes, TailStrategy::GuardWithIf)
      .parallel(block);
  return partial;
}

VectorMachine vectorMachine(const Halide::Target &target) {
  return {target.natural_vector_size<float>(),
          target.has_feature(Halide::Target::AVX512) ? 32 : 16};
}

const char *scheduleFamily(const KernelSignature &signature) {
  switch (signature.op) {
  case KernelOp::DenseChannels:
  case KernelOp::DenseTokens:
  case KernelOp::PatchEmbed:
    return "gemm";
  case KernelOp::DepthwiseConv:
    return "depthwise";
  default:
    return "";
  }
}

namespace {
/// The schedule `record` of family Schedule stands for on `target` (the default template's where
/// it is "").
template <typename Schedule, typename Default, typename Parse, typename Valid>
bool scheduleOf(const KernelSignature &signature, const Halide::Target &target,
                const std::string &record, Default defaults, Parse parse, Valid valid,
                Schedule *schedule, std::string *error) {
  const VectorMachine machine = vectorMachine(target);
  *schedule = defaults(signature, machine);
  return record.empty() ||
         (parse(record, schedule, error) && valid(signature, machine, *schedule, error));
}

bool gemmScheduleOf(const KernelSignature &signature, const Halide::Target &target,
                    const std::string &record, GemmSchedule *schedule, std::string *error) {
  return scheduleOf(signature, target, record, defaultGemmSchedule, parseGemmSchedule,
                    validGemmSchedule, schedule, error);
}

bool depthwiseScheduleOf(const KernelSignature &signature, const Halide::Target &target,
                         const std::string &record, DepthwiseSchedule *schedule,
                         std::string *error) {
  return scheduleOf(signature, target, record, defaultDepthwiseSchedule, parseDepthwiseSchedule,
                    validDepthwiseSchedule, schedule, error);
}
} // namespace

bool checkScheduleRecord(const KernelSignature &signature, const Halide::Target &target,
                         const std::string &record, std::string *error) {
  if (record.empty())
    return true;
  const std::string family = scheduleFamily(signature);
  if (family == "gemm") {
    GemmSchedule schedule;
    return gemmScheduleOf(signature, target, record, &schedule, error);
  }
  if (family == "depthwise") {
    DepthwiseSchedule schedule;
    return depthwiseScheduleOf(signature, target, record, &schedule, error);
  }
  *error = fmt::format("kernel {} has no schedule record family (its schedule is its "
                       "template's)",
                       signature.key());
  return false;
}

std::string defaultScheduleRecord(const KernelSignature &signature,
                                  const VectorMachine &machine) {
  const std::string family = scheduleFamily(signature);
  if (family == "gemm")
    return defaultGemmSchedule(signature, machine).str();
  if (family == "depthwise")
    return defaultDepthwiseSchedule(signature, machine).str();
  return "";
}

BuiltKernel buildKernel(const KernelSignature &signature, const Halide::Target &target,
                        const std::string &record) {
  std::string error;
  if (!record.empty() && !*scheduleFamily(signature)) { // a family without records
    checkScheduleRecord(signature, target, record, &error);
    throw Halide::CompileError(error);
  }
  switch (signature.op) {
  case KernelOp::DenseChannels:
  case KernelOp::DenseTokens:
  case KernelOp::PatchEmbed: {
    GemmSchedule schedule;
    if (!gemmScheduleOf(signature, target, record, &schedule, &error))
      throw Halide::CompileError(error);
    return buildGemmKernel(signature, target, schedule);
  }
  case KernelOp::DepthwiseConv: {
    DepthwiseSchedule schedule;
    if (!depthwiseScheduleOf(signature, target, record, &schedule, &error))
      throw Halide::CompileError(error);
    return buildDepthwiseKernel(signature, target, schedule);
  }
  case KernelOp::LayerNorm:
    return buildLayerNormKernel(signature, target);
  case KernelOp::GlobalAvgPool:
    return buildPoolKernel(signature, target);
  case KernelOp::WeightGradChannels:
  case KernelOp::WeightGradPatches:
  case KernelOp::WeightGradTokens:
  case KernelOp::BiasGradChannels:
  case KernelOp::BiasGradTokens:
    return buildWeightGradKernel(signature, target);
  case KernelOp::BatchNormTrain:
  case KernelOp::BatchNormGrad:
  case KernelOp::DepthwiseGradInput:
  case KernelOp::DepthwiseGradWeight:
    return buildConvTrainingKernel(signature, target);
  default:
    return buildTrainingKernel(signature, target);
  }
  return buildLayerNormKernel(signature, target);
}

} // namespace mixerc
