// The textual form round-trips: print, re-parse, print again, and check every op's syntax.
// RUN: %mixer-opt %s | %mixer-opt | FileCheck %s

// CHECK-LABEL: func.func @mixer_block
func.func @mixer_block(%img: tensor<?x3x32x48xf32>) -> tensor<?x10xf32> {
  // CHECK: %[[W:.*]] = mixer.param "stem.proj.weight" {init = "lecun_normal"} : tensor<16x3x8x8xf32>
  %w = mixer.param "stem.proj.weight" {init = "lecun_normal"} : tensor<16x3x8x8xf32>
  %b = mixer.param "stem.proj.bias" {init = "zeros"} : tensor<16xf32>
  // CHECK: mixer.patch_embed %{{.*}}, %[[W]], %{{.*}} : (tensor<?x3x32x48xf32>, tensor<16x3x8x8xf32>, tensor<16xf32>) -> tensor<?x24x16xf32>
  %x = mixer.patch_embed %img, %w, %b : (tensor<?x3x32x48xf32>, tensor<16x3x8x8xf32>, tensor<16xf32>) -> tensor<?x24x16xf32>
  %g = mixer.param "norm.weight" {init = "ones"} : tensor<16xf32>
  %be = mixer.param "norm.bias" {init = "zeros"} : tensor<16xf32>
  // CHECK: mixer.layer_norm %{{.*}} {epsilon = 1.000000e-05 : f64}
  %y = mixer.layer_norm %x, %g, %be {epsilon = 1.0e-5 : f64} : (tensor<?x24x16xf32>, tensor<16xf32>, tensor<16xf32>) -> tensor<?x24x16xf32>
  %w1 = mixer.param "fc1.weight" {init = "xavier_uniform"} : tensor<8x24xf32>
  %b1 = mixer.param "fc1.bias" {init = "normal", std = 1.0e-06 : f64} : tensor<8xf32>
  // CHECK: mixer.dense %{{.*}} {activation = "gelu_erf", dim = 1 : i64} : {{.*}} -> tensor<?x8x16xf32>
  %h = mixer.dense %y, %w1, %b1 {dim = 1 : i64, activation = "gelu_erf"} : (tensor<?x24x16xf32>, tensor<8x24xf32>, tensor<8xf32>) -> tensor<?x8x16xf32>
  %w2 = mixer.param "fc2.weight" {init = "xavier_uniform"} : tensor<24x8xf32>
  %b2 = mixer.param "fc2.bias" {init = "zeros"} : tensor<24xf32>
  // CHECK: mixer.dense %{{.*}} residual %{{.*}} {dim = 1 : i64}
  %t = mixer.dense %h, %w2, %b2 residual %x {dim = 1 : i64} : (tensor<?x8x16xf32>, tensor<24x8xf32>, tensor<24xf32>, tensor<?x24x16xf32>) -> tensor<?x24x16xf32>
  // CHECK: mixer.gelu %{{.*}} {approximation = "tanh"}
  %u = mixer.gelu %t {approximation = "tanh"} : (tensor<?x24x16xf32>) -> tensor<?x24x16xf32>
  // CHECK: mixer.add
  %s = mixer.add %u, %x : (tensor<?x24x16xf32>, tensor<?x24x16xf32>) -> tensor<?x24x16xf32>
  // CHECK: mixer.global_avg_pool %{{.*}} : (tensor<?x24x16xf32>) -> tensor<?x16xf32>
  %p = mixer.global_avg_pool %s : (tensor<?x24x16xf32>) -> tensor<?x16xf32>
  %hw = mixer.param "head.weight" {init = "zeros"} : tensor<10x16xf32>
  %hb = mixer.param "head.bias" {init = "zeros"} : tensor<10xf32>
  %logits = mixer.dense %p, %hw, %hb {dim = 1 : i64} : (tensor<?x16xf32>, tensor<10x16xf32>, tensor<10xf32>) -> tensor<?x10xf32>
  return %logits : tensor<?x10xf32>
}

// CHECK-LABEL: func.func @bmlp_stem
func.func @bmlp_stem(%img: tensor<?x3x8x8xf32>) -> tensor<?x16xf32> {
  // CHECK: mixer.flatten %{{.*}} : (tensor<?x3x8x8xf32>) -> tensor<?x192xf32>
  %x = mixer.flatten %img : (tensor<?x3x8x8xf32>) -> tensor<?x192xf32>
  // CHECK: mixer.param "stem.bias" {fan_in = 192 : i64, init = "uniform_fan_in"}
  %w = mixer.param "stem.weight" {init = "uniform_fan_in"} : tensor<16x192xf32>
  %b = mixer.param "stem.bias" {init = "uniform_fan_in", fan_in = 192 : i64} : tensor<16xf32>
  %y = mixer.dense %x, %w, %b {dim = 1 : i64} : (tensor<?x192xf32>, tensor<16x192xf32>, tensor<16xf32>) -> tensor<?x16xf32>
  return %y : tensor<?x16xf32>
}

// CHECK-LABEL: func.func @conv_mixer_block
func.func @conv_mixer_block(%img: tensor<?x3x12x18xf32>) -> tensor<?x8xf32> {
  %w = mixer.param "stem.0.weight" {init = "uniform_fan_in"} : tensor<8x3x3x3xf32>
  %b = mixer.param "stem.0.bias" {init = "uniform_fan_in", fan_in = 27 : i64} : tensor<8xf32>
  %g = mixer.param "stem.2.weight" {init = "ones"} : tensor<8xf32>
  %be = mixer.param "stem.2.bias" {init = "zeros"} : tensor<8xf32>
  %m = mixer.param "stem.2.running_mean" {init = "zeros"} : tensor<8xf32>
  %v = mixer.param "stem.2.running_var" {init = "ones"} : tensor<8xf32>
  // CHECK: mixer.param "stem.2.num_batches_tracked" {init = "zeros"} : tensor<i64>
  %n = mixer.param "stem.2.num_batches_tracked" {init = "zeros"} : tensor<i64>
  // CHECK: mixer.patch_embed {{.*}} {grid} : {{.*}} -> tensor<?x4x6x8xf32>
  %x = mixer.patch_embed %img, %w, %b {grid} : (tensor<?x3x12x18xf32>, tensor<8x3x3x3xf32>, tensor<8xf32>) -> tensor<?x4x6x8xf32>
  // CHECK: mixer.relu %{{.*}} : (tensor<?x4x6x8xf32>) -> tensor<?x4x6x8xf32>
  %r = mixer.relu %x : (tensor<?x4x6x8xf32>) -> tensor<?x4x6x8xf32>
  // CHECK: mixer.batch_norm {{.*}} {epsilon = 1.000000e-03 : f64}
  %s = mixer.batch_norm %r, %g, %be, %m, %v {epsilon = 1.0e-3 : f64} : (tensor<?x4x6x8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>) -> tensor<?x4x6x8xf32>
  %dw = mixer.param "blocks.0.0.fn.0.weight" {init = "uniform_fan_in"} : tensor<8x1x5x5xf32>
  // CHECK: mixer.depthwise_conv2d %{{.*}}, %{{.*}}, %{{.*}} norm(%{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}) residual %{{.*}} {activation = "gelu_erf", norm_epsilon = 1.000000e-03 : f64}
  %d = mixer.depthwise_conv2d %s, %dw, %b norm(%g, %be, %m, %v) residual %s {activation = "gelu_erf", norm_epsilon = 1.0e-3 : f64} : (tensor<?x4x6x8xf32>, tensor<8x1x5x5xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<?x4x6x8xf32>) -> tensor<?x4x6x8xf32>
  %pw = mixer.param "blocks.0.1.weight" {init = "uniform_fan_in"} : tensor<8x8x1x1xf32>
  // CHECK: mixer.dense {{.*}} {activation = "relu", dim = 3 : i64} : {{.*}} -> tensor<?x4x6x8xf32>
  %y = mixer.dense %d, %pw, %b {dim = 3 : i64, activation = "relu"} : (tensor<?x4x6x8xf32>, tensor<8x8x1x1xf32>, tensor<8xf32>) -> tensor<?x4x6x8xf32>
  // CHECK: mixer.global_avg_pool %{{.*}} : (tensor<?x4x6x8xf32>) -> tensor<?x8xf32>
  %p = mixer.global_avg_pool %y : (tensor<?x4x6x8xf32>) -> tensor<?x8xf32>
  return %p : tensor<?x8xf32>
}

// A training forward pass's dense layer that also returns its activation's derivative.
// CHECK-LABEL: func.func @dense_derivative
func.func @dense_derivative(%x: tensor<?x4x16xf32>, %w: tensor<64x16xf32>, %b: tensor<64xf32>) -> (tensor<?x4x64xf32>, tensor<?x4x64xf32>) {
  // CHECK: %{{.*}}, %{{.*}} = mixer.dense %arg0, %arg1, %arg2 {activation = "gelu_erf", dim = 2 : i64} : (tensor<?x4x16xf32>, tensor<64x16xf32>, tensor<64xf32>) -> (tensor<?x4x64xf32>, tensor<?x4x64xf32>)
  %g, %d = mixer.dense %x, %w, %b {dim = 2 : i64, activation = "gelu_erf"} : (tensor<?x4x16xf32>, tensor<64x16xf32>, tensor<64xf32>) -> (tensor<?x4x64xf32>, tensor<?x4x64xf32>)
  return %g, %d : tensor<?x4x64xf32>, tensor<?x4x64xf32>
}
