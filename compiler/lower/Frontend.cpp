// Runs the dialect pipeline for a spec (see Frontend.h).
#include "lower/Frontend.h"

#include "schedule/BatchChunking.h"

#include "llvm/Support/raw_ostream.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/Verifier.h"
#include "mlir/Pass/PassManager.h"

#include "lower/LowerMixerToKernels.h"
#include "lower/LowerSpecToMixer.h"
#include "mixer/MixerDialect.h"
#include "mixer/MixerPasses.h"

using namespace mlir;

namespace mixerc {
namespace {

/// Builds and optimises the module; diagnostics are collected into `error`.
OwningOpRef<ModuleOp> buildOptimised(const ModelSpec &spec, MLIRContext &context,
                                     std::string *error) {
  llvm::raw_string_ostream diagnostics(*error);
  ScopedDiagnosticHandler handler(&context, [&](Diagnostic &d) {
    diagnostics << d.getLocation() << ": " << d << "\n";
    return success();
  });
  OwningOpRef<ModuleOp> module = lowerSpecToMixer(spec, context);
  PassManager pm(&context);
  pm.addNestedPass<func::FuncOp>(mixer::createInferShapesPass());
  pm.addNestedPass<func::FuncOp>(mixer::createFuseElementwisePass());
  if (failed(pm.run(*module)) || failed(verify(*module)))
    return nullptr;
  return module;
}

} // namespace

bool emitMixerModule(const ModelSpec &spec, std::string *text, std::string *error) {
  MLIRContext context;
  OwningOpRef<ModuleOp> module = buildOptimised(spec, context, error);
  if (!module)
    return false;
  llvm::raw_string_ostream out(*text);
  module->print(out);
  return true;
}

bool planModel(const ModelSpec &spec, const VectorMachine &machine, KernelPlan *plan,
               std::string *error) {
  MLIRContext context;
  OwningOpRef<ModuleOp> module = buildOptimised(spec, context, error);
  if (!module)
    return false;
  plan->name = spec.name;
  plan->family = familyName(spec.family);
  plan->flops_per_image = spec.forward_flops_per_image();
  llvm::raw_string_ostream diagnostics(*error);
  ScopedDiagnosticHandler handler(&context, [&](Diagnostic &d) {
    diagnostics << d.getLocation() << ": " << d << "\n";
    return success();
  });
  auto function = *module->getOps<func::FuncOp>().begin();
  if (failed(lowerMixerToKernels(function, machine, plan)))
    return false;
  plan->images_per_chunk = imagesPerChunk(*plan);
  return true;
}

} // namespace mixerc
