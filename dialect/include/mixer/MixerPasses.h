// The mixer dialect's passes and their registration.
#ifndef MIXER_MIXERPASSES_H
#define MIXER_MIXERPASSES_H

#include <memory>

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/Pass.h"

namespace mixer {

std::unique_ptr<mlir::Pass> createInferShapesPass();
std::unique_ptr<mlir::Pass> createFuseElementwisePass();
std::unique_ptr<mlir::Pass> createGenerateGradientsPass();

#define GEN_PASS_REGISTRATION
#include "mixer/MixerPasses.h.inc"

} // namespace mixer

#endif
