// The kernel tests' one way to run a kernel: built for the host and JIT-compiled to a Callable
// that takes the kernel's arguments, then its outputs, in the lowering's order.
#ifndef MIXERC_TESTS_UNIT_KERNELJIT_H
#define MIXERC_TESTS_UNIT_KERNELJIT_H

#include <Halide.h>

#include "kernels/Kernels.h"
#include "lower/KernelPlan.h"

namespace mixerc {

inline Halide::Callable jitForHost(const KernelSignature &signature) {
  BuiltKernel kernel = buildKernel(signature, Halide::get_host_target());
  return kernel.pipeline.compile_to_callable(kernel.arguments);
}

} // namespace mixerc

#endif
