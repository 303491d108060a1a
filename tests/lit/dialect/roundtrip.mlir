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
  // CHECK: mixer.global_avg_pool %{{.*}} {dim = 1 : i64} : (tensor<?x24x16xf32>) -> tensor<?x16xf32>
  %p = mixer.global_avg_pool %s {dim = 1 : i64} : (tensor<?x24x16xf32>) -> tensor<?x16xf32>
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
