//===- MixerInterfaces.td - shape inference interface -----------------------===//
#ifndef MIXER_INTERFACES
#define MIXER_INTERFACES

include "mlir/IR/OpBase.td"

def ShapeInferenceOpInterface : OpInterface<"ShapeInference"> {
  let description = [{
    Ops whose result shape follows from their operands' shapes. The spec builder creates results as
    unranked tensors; the `mixer-infer-shapes` pass calls `inferShapes` in program order to refine
    them, and fails (with the op's diagnostic) when operand shapes disagree.
  }];
  let cppNamespace = "::mixer";
  let methods = [
    InterfaceMethod<"Refine the result types from the operand types.",
                    "::mlir::LogicalResult", "inferShapes">
  ];
}

#endif // MIXER_INTERFACES
