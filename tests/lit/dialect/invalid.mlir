// Every verifier error of the mixer dialect, one per split.
// RUN: %mixer-opt %s -split-input-file -verify-diagnostics

// expected-error @+1 {{unknown initialiser 'gaussian' (expected zeros, ones, xavier_uniform, lecun_normal, normal or uniform_fan_in)}}
%w = mixer.param "w" {init = "gaussian"} : tensor<4xf32>

// -----

// expected-error @+1 {{initialiser 'normal' needs a 'std' attribute}}
%w = mixer.param "w" {init = "normal"} : tensor<4xf32>

// -----

// expected-error @+1 {{parameter 'w' must have a static shape, not ?x4}}
%w = mixer.param "w" {init = "zeros"} : tensor<?x4xf32>

// -----

// expected-error @+1 {{parameter name must not be empty}}
%w = mixer.param "" {init = "zeros"} : tensor<4xf32>

// -----

func.func @image_rank(%img: tensor<?x3x32xf32>, %w: tensor<8x3x8x8xf32>, %b: tensor<8xf32>) {
  // expected-error @+1 {{image must be NxCxHxW, got ?x3x32}}
  %x = mixer.patch_embed %img, %w, %b : (tensor<?x3x32xf32>, tensor<8x3x8x8xf32>, tensor<8xf32>) -> tensor<*xf32>
  return
}

// -----

func.func @kernel_square(%img: tensor<?x3x32x32xf32>, %w: tensor<8x3x8x4xf32>, %b: tensor<8xf32>) {
  // expected-error @+1 {{weight must be [hidden, channels, p, p], got 8x3x8x4}}
  %x = mixer.patch_embed %img, %w, %b : (tensor<?x3x32x32xf32>, tensor<8x3x8x4xf32>, tensor<8xf32>) -> tensor<*xf32>
  return
}

// -----

func.func @channels(%img: tensor<?x1x32x32xf32>, %w: tensor<8x3x8x8xf32>, %b: tensor<8xf32>) {
  // expected-error @+1 {{weight expects 3 input channels but the image has 1}}
  %x = mixer.patch_embed %img, %w, %b : (tensor<?x1x32x32xf32>, tensor<8x3x8x8xf32>, tensor<8xf32>) -> tensor<*xf32>
  return
}

// -----

func.func @dynamic_image(%img: tensor<?x3x?x32xf32>, %w: tensor<8x3x8x8xf32>, %b: tensor<8xf32>) {
  // expected-error @+1 {{image height and width must be static}}
  %x = mixer.patch_embed %img, %w, %b : (tensor<?x3x?x32xf32>, tensor<8x3x8x8xf32>, tensor<8xf32>) -> tensor<*xf32>
  return
}

// -----

func.func @divisible(%img: tensor<?x3x30x32xf32>, %w: tensor<8x3x8x8xf32>, %b: tensor<8xf32>) {
  // expected-error @+1 {{image 30x32 is not divisible by the patch size 8}}
  %x = mixer.patch_embed %img, %w, %b : (tensor<?x3x30x32xf32>, tensor<8x3x8x8xf32>, tensor<8xf32>) -> tensor<*xf32>
  return
}

// -----

func.func @patch_bias(%img: tensor<?x3x32x32xf32>, %w: tensor<8x3x8x8xf32>, %b: tensor<7xf32>) {
  // expected-error @+1 {{bias has shape 7 but 8 elements are expected}}
  %x = mixer.patch_embed %img, %w, %b : (tensor<?x3x32x32xf32>, tensor<8x3x8x8xf32>, tensor<7xf32>) -> tensor<*xf32>
  return
}

// -----

func.func @patch_result(%img: tensor<?x3x32x32xf32>, %w: tensor<8x3x8x8xf32>, %b: tensor<8xf32>) {
  // expected-error @+1 {{result has shape ?x49x8 but its operands imply ?x16x8}}
  %x = mixer.patch_embed %img, %w, %b : (tensor<?x3x32x32xf32>, tensor<8x3x8x8xf32>, tensor<8xf32>) -> tensor<?x49x8xf32>
  return
}

// -----

func.func @gamma(%x: tensor<?x16x8xf32>, %g: tensor<16xf32>, %b: tensor<8xf32>) {
  // expected-error @+1 {{gamma has shape 16 but 8 elements are expected}}
  %y = mixer.layer_norm %x, %g, %b : (tensor<?x16x8xf32>, tensor<16xf32>, tensor<8xf32>) -> tensor<?x16x8xf32>
  return
}

// -----

func.func @beta(%x: tensor<?x16x8xf32>, %g: tensor<8xf32>, %b: tensor<2x4xf32>) {
  // expected-error @+1 {{beta has shape 2x4 but 8 elements are expected}}
  %y = mixer.layer_norm %x, %g, %b : (tensor<?x16x8xf32>, tensor<8xf32>, tensor<2x4xf32>) -> tensor<?x16x8xf32>
  return
}

// -----

func.func @epsilon(%x: tensor<?x16x8xf32>, %g: tensor<8xf32>, %b: tensor<8xf32>) {
  // expected-error @+1 {{epsilon must be positive}}
  %y = mixer.layer_norm %x, %g, %b {epsilon = 0.0 : f64} : (tensor<?x16x8xf32>, tensor<8xf32>, tensor<8xf32>) -> tensor<?x16x8xf32>
  return
}

// -----

func.func @dense_dim(%x: tensor<?x16x8xf32>, %w: tensor<4x8xf32>, %b: tensor<4xf32>) {
  // expected-error @+1 {{dim 3 is not a non-batch dimension of the ?x16x8 input}}
  %y = mixer.dense %x, %w, %b {dim = 3 : i64} : (tensor<?x16x8xf32>, tensor<4x8xf32>, tensor<4xf32>) -> tensor<*xf32>
  return
}

// -----

func.func @dense_weight_rank(%x: tensor<?x16x8xf32>, %w: tensor<4x8x1xf32>, %b: tensor<4xf32>) {
  // expected-error @+1 {{weight must be [out, in] (or [out, in, 1, 1] along the last dim), got 4x8x1}}
  %y = mixer.dense %x, %w, %b {dim = 2 : i64} : (tensor<?x16x8xf32>, tensor<4x8x1xf32>, tensor<4xf32>) -> tensor<*xf32>
  return
}

// -----

func.func @token_mlp(%x: tensor<?x49x8xf32>, %w: tensor<4x196xf32>, %b: tensor<4xf32>) {
  // expected-error @+1 {{weight expects 196 inputs but the input has 49 along dim 1}}
  %y = mixer.dense %x, %w, %b {dim = 1 : i64} : (tensor<?x49x8xf32>, tensor<4x196xf32>, tensor<4xf32>) -> tensor<*xf32>
  return
}

// -----

func.func @dense_bias(%x: tensor<?x16x8xf32>, %w: tensor<4x8xf32>, %b: tensor<8xf32>) {
  // expected-error @+1 {{bias has shape 8 but 4 elements are expected}}
  %y = mixer.dense %x, %w, %b {dim = 2 : i64} : (tensor<?x16x8xf32>, tensor<4x8xf32>, tensor<8xf32>) -> tensor<*xf32>
  return
}

// -----

func.func @activation(%x: tensor<?x16x8xf32>, %w: tensor<4x8xf32>, %b: tensor<4xf32>) {
  // expected-error @+1 {{unknown activation 'swish' (expected none, gelu_erf, gelu_tanh or relu)}}
  %y = mixer.dense %x, %w, %b {dim = 2 : i64, activation = "swish"} : (tensor<?x16x8xf32>, tensor<4x8xf32>, tensor<4xf32>) -> tensor<*xf32>
  return
}

// -----

func.func @derivative_without_activation(%x: tensor<?x16x8xf32>, %w: tensor<4x8xf32>, %b: tensor<4xf32>) {
  // expected-error @+1 {{returns an activation's derivative but has no activation}}
  %y, %d = mixer.dense %x, %w, %b {dim = 2 : i64} : (tensor<?x16x8xf32>, tensor<4x8xf32>, tensor<4xf32>) -> (tensor<?x16x4xf32>, tensor<?x16x4xf32>)
  return
}

// -----

func.func @derivative_shape(%x: tensor<?x16x8xf32>, %w: tensor<4x8xf32>, %b: tensor<4xf32>) {
  // expected-error @+1 {{result has shape ?x16x5 but its operands imply ?x16x4}}
  %y, %d = mixer.dense %x, %w, %b {dim = 2 : i64, activation = "gelu_erf"} : (tensor<?x16x8xf32>, tensor<4x8xf32>, tensor<4xf32>) -> (tensor<?x16x4xf32>, tensor<?x16x5xf32>)
  return
}

// -----

func.func @residual(%x: tensor<?x16x8xf32>, %w: tensor<4x8xf32>, %b: tensor<4xf32>) {
  // expected-error @+1 {{residual has shape ?x16x8 but the result is ?x16x4}}
  %y = mixer.dense %x, %w, %b residual %x {dim = 2 : i64} : (tensor<?x16x8xf32>, tensor<4x8xf32>, tensor<4xf32>, tensor<?x16x8xf32>) -> tensor<*xf32>
  return
}

// -----

func.func @gelu(%x: tensor<?x16x8xf32>) {
  // expected-error @+1 {{unknown approximation 'sigmoid' (expected erf or tanh)}}
  %y = mixer.gelu %x {approximation = "sigmoid"} : (tensor<?x16x8xf32>) -> tensor<?x16x8xf32>
  return
}

// -----

func.func @add(%x: tensor<?x16x8xf32>, %y: tensor<?x8x16xf32>) {
  // expected-error @+1 {{operands have shapes ?x16x8 and ?x8x16}}
  %z = mixer.add %x, %y : (tensor<?x16x8xf32>, tensor<?x8x16xf32>) -> tensor<*xf32>
  return
}

// -----

func.func @add_unranked(%x: tensor<?x16x8xf32>, %y: tensor<*xf32>) {
  // expected-error @+1 {{rhs shape is not known yet}}
  %z = mixer.add %x, %y : (tensor<?x16x8xf32>, tensor<*xf32>) -> tensor<*xf32>
  return
}

// -----

func.func @pool(%x: tensor<?x8xf32>) {
  // expected-error @+1 {{needs [batch, ..., channels] with at least one dimension to pool, got ?x8}}
  %y = mixer.global_avg_pool %x : (tensor<?x8xf32>) -> tensor<*xf32>
  return
}

// -----

func.func @pointwise_not_last(%x: tensor<?x4x4x8xf32>, %w: tensor<6x4x1x1xf32>, %b: tensor<6xf32>) {
  // expected-error @+1 {{weight must be [out, in] (or [out, in, 1, 1] along the last dim), got 6x4x1x1}}
  %y = mixer.dense %x, %w, %b {dim = 2 : i64} : (tensor<?x4x4x8xf32>, tensor<6x4x1x1xf32>, tensor<6xf32>) -> tensor<*xf32>
  return
}

// -----

func.func @norm_operands(%x: tensor<?x16x8xf32>, %w: tensor<4x8xf32>, %b: tensor<4xf32>) {
  // expected-error @+1 {{norm takes gamma, beta, mean and variance, got 2 operands}}
  %y = mixer.dense %x, %w, %b norm(%b, %b) {dim = 2 : i64} : (tensor<?x16x8xf32>, tensor<4x8xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>) -> tensor<*xf32>
  return
}

// -----

func.func @norm_shape(%x: tensor<?x16x8xf32>, %w: tensor<4x8xf32>, %b: tensor<4xf32>, %v: tensor<8xf32>) {
  // expected-error @+1 {{norm variance has shape 8 but 4 elements are expected}}
  %y = mixer.dense %x, %w, %b norm(%b, %b, %b, %v) {dim = 2 : i64} : (tensor<?x16x8xf32>, tensor<4x8xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<8xf32>) -> tensor<*xf32>
  return
}

// -----

func.func @norm_epsilon(%x: tensor<?x16x8xf32>, %w: tensor<4x8xf32>, %b: tensor<4xf32>) {
  // expected-error @+1 {{norm_epsilon must be positive}}
  %y = mixer.dense %x, %w, %b norm(%b, %b, %b, %b) {dim = 2 : i64, norm_epsilon = 0.0 : f64} : (tensor<?x16x8xf32>, tensor<4x8xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>) -> tensor<*xf32>
  return
}

// -----

func.func @depthwise_rank(%x: tensor<?x16x8xf32>, %w: tensor<8x1x3x3xf32>, %b: tensor<8xf32>) {
  // expected-error @+1 {{input must be NxHxWxC (channels last), got ?x16x8}}
  %y = mixer.depthwise_conv2d %x, %w, %b : (tensor<?x16x8xf32>, tensor<8x1x3x3xf32>, tensor<8xf32>) -> tensor<*xf32>
  return
}

// -----

func.func @depthwise_weight(%x: tensor<?x4x4x8xf32>, %w: tensor<8x2x3x3xf32>, %b: tensor<8xf32>) {
  // expected-error @+1 {{weight must be [channels, 1, k, k], got 8x2x3x3}}
  %y = mixer.depthwise_conv2d %x, %w, %b : (tensor<?x4x4x8xf32>, tensor<8x2x3x3xf32>, tensor<8xf32>) -> tensor<*xf32>
  return
}

// -----

func.func @depthwise_filters(%x: tensor<?x4x4x8xf32>, %w: tensor<6x1x3x3xf32>, %b: tensor<8xf32>) {
  // expected-error @+1 {{weight has 6 filters but the input has 8 channels}}
  %y = mixer.depthwise_conv2d %x, %w, %b : (tensor<?x4x4x8xf32>, tensor<6x1x3x3xf32>, tensor<8xf32>) -> tensor<*xf32>
  return
}

// -----

func.func @depthwise_result(%x: tensor<?x4x4x8xf32>, %w: tensor<8x1x3x3xf32>, %b: tensor<8xf32>) {
  // expected-error @+1 {{result has shape ?x4x4x4 but its operands imply ?x4x4x8}}
  %y = mixer.depthwise_conv2d %x, %w, %b : (tensor<?x4x4x8xf32>, tensor<8x1x3x3xf32>, tensor<8xf32>) -> tensor<?x4x4x4xf32>
  return
}

// -----

func.func @batch_norm(%x: tensor<?x4x4x8xf32>, %v: tensor<8xf32>, %m: tensor<4xf32>) {
  // expected-error @+1 {{mean has shape 4 but 8 elements are expected}}
  %y = mixer.batch_norm %x, %v, %v, %m, %v : (tensor<?x4x4x8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<4xf32>, tensor<8xf32>) -> tensor<*xf32>
  return
}

// -----

func.func @batch_norm_epsilon(%x: tensor<?x4x4x8xf32>, %v: tensor<8xf32>) {
  // expected-error @+1 {{epsilon must be positive}}
  %y = mixer.batch_norm %x, %v, %v, %v, %v {epsilon = -1.0 : f64} : (tensor<?x4x4x8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>) -> tensor<*xf32>
  return
}

// -----

func.func @relu_result(%x: tensor<?x4x4x8xf32>) {
  // expected-error @+1 {{result has shape ?x4x4 but its operands imply ?x4x4x8}}
  %y = mixer.relu %x : (tensor<?x4x4x8xf32>) -> tensor<?x4x4xf32>
  return
}

// -----

func.func @grid_not_divisible(%img: tensor<?x3x30x42xf32>, %w: tensor<8x3x4x4xf32>, %b: tensor<8xf32>) {
  // expected-error @+1 {{image 30x42 is not divisible by the patch size 4}}
  %y = mixer.patch_embed %img, %w, %b {grid} : (tensor<?x3x30x42xf32>, tensor<8x3x4x4xf32>, tensor<8xf32>) -> tensor<*xf32>
  return
}

// -----

// expected-error @+1 {{an i64 parameter (a counter) must be initialised with zeros, not 'ones'}}
%n = mixer.param "bn.num_batches_tracked" {init = "ones"} : tensor<i64>

// -----

// expected-error @+1 {{fan_in must be positive, got 0}}
%w = mixer.param "w" {init = "uniform_fan_in", fan_in = 0 : i64} : tensor<4xf32>

// -----

func.func @flatten_rank(%x: tensor<?xf32>) {
  // expected-error @+1 {{needs a batch and at least one more dimension, got ?}}
  %y = mixer.flatten %x : (tensor<?xf32>) -> tensor<*xf32>
  return
}

// -----

func.func @flatten_dynamic(%x: tensor<?x3x?xf32>) {
  // expected-error @+1 {{needs static non-batch dimensions, got ?x3x?}}
  %y = mixer.flatten %x : (tensor<?x3x?xf32>) -> tensor<*xf32>
  return
}

// -----

func.func @flatten_result(%x: tensor<?x3x4xf32>) {
  // expected-error @+1 {{result has shape ?x7 but its operands imply ?x12}}
  %y = mixer.flatten %x : (tensor<?x3x4xf32>) -> tensor<?x7xf32>
  return
}
