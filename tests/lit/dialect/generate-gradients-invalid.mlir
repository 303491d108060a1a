// Graphs the gradient pass refuses, each with a diagnostic on the op at fault.
// RUN: %mixer-opt %s --split-input-file --verify-diagnostics --mixer-generate-gradients

func.func @fused(%x: tensor<?x8xf32>) -> tensor<?x3xf32> {
  %w = mixer.param "head.weight" {init = "zeros"} : tensor<3x8xf32>
  %b = mixer.param "head.bias" {init = "zeros"} : tensor<3xf32>
  // expected-error @+1 {{has a fused epilogue; run mixer-generate-gradients before mixer-fuse-elementwise}}
  %o = mixer.dense %x, %w, %b {dim = 1 : i64, activation = "gelu_erf"} : (tensor<?x8xf32>, tensor<3x8xf32>, tensor<3xf32>) -> tensor<?x3xf32>
  return %o : tensor<?x3xf32>
}

// -----

func.func @flatten(%x: tensor<?x2x4xf32>) -> tensor<?x3xf32> {
  %w = mixer.param "fc.weight" {init = "zeros"} : tensor<4x4xf32>
  %b = mixer.param "fc.bias" {init = "zeros"} : tensor<4xf32>
  %y = mixer.dense %x, %w, %b {dim = 2 : i64} : (tensor<?x2x4xf32>, tensor<4x4xf32>, tensor<4xf32>) -> tensor<?x2x4xf32>
  // expected-error @+1 {{has no gradient rule (only an image is flattened)}}
  %f = mixer.flatten %y : (tensor<?x2x4xf32>) -> tensor<?x8xf32>
  %wh = mixer.param "head.weight" {init = "zeros"} : tensor<3x8xf32>
  %bh = mixer.param "head.bias" {init = "zeros"} : tensor<3xf32>
  %o = mixer.dense %f, %wh, %bh {dim = 1 : i64} : (tensor<?x8xf32>, tensor<3x8xf32>, tensor<3xf32>) -> tensor<?x3xf32>
  return %o : tensor<?x3xf32>
}

// -----

// expected-error @+1 {{run mixer-infer-shapes first: the logits must be ranked}}
func.func @unranked(%x: tensor<?x8xf32>) -> tensor<*xf32> {
  %w = mixer.param "head.weight" {init = "zeros"} : tensor<3x8xf32>
  %b = mixer.param "head.bias" {init = "zeros"} : tensor<3xf32>
  %o = mixer.dense %x, %w, %b {dim = 1 : i64} : (tensor<?x8xf32>, tensor<3x8xf32>, tensor<3xf32>) -> tensor<*xf32>
  return %o : tensor<*xf32>
}

// -----

func.func @bad_grad_shape(%p: tensor<?x8xf32>, %d: tensor<?x3xf32>) {
  %w = mixer.param "head.weight" {init = "zeros"} : tensor<3x8xf32>
  // expected-error @+1 {{result has shape 8x3 but its operands imply 3x8}}
  %dw = mixer.dense_grad_weight %p, %d {dim = 1 : i64} : (tensor<?x8xf32>, tensor<?x3xf32>) -> tensor<8x3xf32>
  return
}

// -----

func.func @store_mismatch(%g: tensor<3xf32>) {
  %w = mixer.param "head.weight" {init = "zeros"} : tensor<3x8xf32>
  // expected-error @+1 {{gradient has shape 3 but the parameter is 3x8}}
  mixer.store_grad %w, %g : tensor<3x8xf32>, tensor<3xf32>
  return
}

// -----

func.func @gelu_train_approximation(%x: tensor<?x8xf32>) {
  // expected-error @+1 {{unknown approximation 'sigmoid' (expected erf or tanh)}}
  %y, %d = mixer.gelu_train %x {approximation = "sigmoid"} : (tensor<?x8xf32>) -> (tensor<?x8xf32>, tensor<?x8xf32>)
  return
}

// -----

func.func @mul_shapes(%a: tensor<?x8xf32>, %b: tensor<?x4xf32>) {
  // expected-error @+1 {{rhs has shape ?x4 but its operands imply ?x8}}
  %y = mixer.mul %a, %b : (tensor<?x8xf32>, tensor<?x4xf32>) -> tensor<?x8xf32>
  return
}

// -----

func.func @scale_shape(%d: tensor<?x3xf32>, %s: tensor<?x3xf32>) {
  %w = mixer.param "head.weight" {init = "zeros"} : tensor<3x8xf32>
  // expected-error @+1 {{scale has shape ?x3 but its operands imply ?x8}}
  %dx = mixer.dense_grad_input %d, %w, %s {dim = 1 : i64} : (tensor<?x3xf32>, tensor<3x8xf32>, tensor<?x3xf32>) -> tensor<?x8xf32>
  return
}

// -----

func.func @layer_norm_grad_param_count(%x: tensor<?x4x8xf32>, %g: tensor<8xf32>) {
  // expected-error @+1 {{returns 1 parameter gradients (expected none, or gamma's and beta's)}}
  %dx, %dg = mixer.layer_norm_grad %x, %g, %x {epsilon = 1.0e-6 : f64} : (tensor<?x4x8xf32>, tensor<8xf32>, tensor<?x4x8xf32>) -> (tensor<?x4x8xf32>, tensor<8xf32>)
  return
}

// -----

func.func @layer_norm_grad_param_shape(%x: tensor<?x4x8xf32>, %g: tensor<8xf32>) {
  // expected-error @+1 {{beta_grad}}
  %dx, %dg, %db = mixer.layer_norm_grad %x, %g, %x {epsilon = 1.0e-6 : f64} : (tensor<?x4x8xf32>, tensor<8xf32>, tensor<?x4x8xf32>) -> (tensor<?x4x8xf32>, tensor<8xf32>, tensor<4xf32>)
  return
}
