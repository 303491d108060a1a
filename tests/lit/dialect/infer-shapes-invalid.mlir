// Shape inference fails with the op's diagnostic when its input shape is unknown.
// RUN: %mixer-opt %s --mixer-infer-shapes -verify-diagnostics

func.func @unranked_input(%x: tensor<*xf32>) -> tensor<*xf32> {
  // expected-error @+1 {{cannot infer a shape from an unranked input}}
  %y = mixer.gelu %x : (tensor<*xf32>) -> tensor<*xf32>
  return %y : tensor<*xf32>
}
