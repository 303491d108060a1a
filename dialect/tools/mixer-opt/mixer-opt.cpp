// mixer-opt: the mixer dialect's opt tool (parse, run passes, print), in the MLIR style.
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/Tools/mlir-opt/MlirOptMain.h"
#include "mlir/Transforms/Passes.h"

#include "mixer/MixerDialect.h"
#include "mixer/MixerPasses.h"

int main(int argc, char **argv) {
  mlir::DialectRegistry registry;
  registry.insert<mixer::MixerDialect, mlir::func::FuncDialect>();
  mixer::registerPasses();
  mlir::registerCanonicalizerPass();
  mlir::registerCSEPass();
  return mlir::asMainReturnCode(mlir::MlirOptMain(argc, argv, "mixer dialect optimizer\n", registry));
}
