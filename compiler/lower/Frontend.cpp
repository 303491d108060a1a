// Runs the dialect pipeline for a spec (see Frontend.h).
#include "lower/Frontend.h"

#include <algorithm>

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
  if (spec.training)
    pm.addPass(mixer::createGenerateGradientsPass());
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
  // The inference function first: the training function reuses its parameters and kernels.
  for (bool training : {false, true})
    for (func::FuncOp function : module->getOps<func::FuncOp>())
      if (function->hasAttr("mixer.train") == training &&
          failed(lowerMixerToKernels(function, machine, plan)))
        return false;
  plan->images_per_chunk = imagesPerChunk(*plan);
  // One packing kernel per distinct weight layout (equal shapes share one).
  for (PlanPack &pack : plan->packs) {
    const PlanParam &param = plan->params[size_t(pack.param)];
    KernelSignature sig;
    sig.op = KernelOp::Pack;
    sig.n = param.shape[0];
    sig.k = 1;
    for (size_t d = 1; d < param.shape.size(); ++d)
      sig.k *= param.shape[d];
    sig.panel = pack.panel;
    sig.transposed = pack.transposed;
    auto known = std::find_if(plan->kernels.begin(), plan->kernels.end(),
                              [&](const KernelSignature &k) { return k.key() == sig.key(); });
    pack.kernel = int(known - plan->kernels.begin());
    if (known == plan->kernels.end())
      plan->kernels.push_back(sig);
  }
  if (spec.training) {
    plan->training = true;
    KernelSignature adamw, sgd;
    adamw.op = KernelOp::AdamW;
    sgd.op = KernelOp::SgdMomentum;
    plan->adamw_kernel = int(plan->kernels.size());
    plan->kernels.push_back(adamw);
    plan->sgd_kernel = int(plan->kernels.size());
    plan->kernels.push_back(sgd);
  }
  return true;
}

} // namespace mixerc
