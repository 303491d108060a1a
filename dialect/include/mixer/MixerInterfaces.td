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

def EpilogueOpInterface : OpInterface<"EpilogueOp"> {
  let description = [{
    Ops that compute a linear map per output element (dense layers, convolutions) and can finish it
    with an elementwise epilogue while the value is still in registers:
    `y = residual + norm(activation(linear + bias))`, where `norm` is an inference BatchNorm over the
    last dimension (operands gamma, beta, running mean, running variance; `norm_epsilon`) and every
    part is optional. The `mixer-fuse-elementwise` pass fills these in from the separate ops.
  }];
  let cppNamespace = "::mixer";
  let methods = [
    InterfaceMethod<"The fused activation: none, gelu_erf, gelu_tanh or relu.",
                    "::llvm::StringRef", "getActivation">,
    InterfaceMethod<"Sets the fused activation.", "void", "setActivation",
                    (ins "::llvm::StringRef":$activation)>,
    InterfaceMethod<"The fused BatchNorm's gamma, beta, mean and variance, or nothing.",
                    "::mlir::Operation::operand_range", "getNorm">,
    InterfaceMethod<"", "::mlir::MutableOperandRange", "getNormMutable">,
    InterfaceMethod<"The fused BatchNorm's epsilon.", "::llvm::APFloat", "getNormEpsilon">,
    InterfaceMethod<"", "void", "setNormEpsilon", (ins "::llvm::APFloat":$epsilon)>,
    InterfaceMethod<"The fused residual, or null.", "::mlir::Value", "getResidual">,
    InterfaceMethod<"", "::mlir::MutableOperandRange", "getResidualMutable">,
  ];
}

#endif // MIXER_INTERFACES
