// Shape inference refines unranked results in program order and updates the function type.
// RUN: %mixer-opt %s --mixer-infer-shapes | FileCheck %s

// CHECK-LABEL: func.func @tokens
// CHECK-SAME: -> tensor<?x12xf32>
func.func @tokens(%img: tensor<?x1x28x21xf32>) -> tensor<*xf32> {
  %w = mixer.param "stem.proj.weight" {init = "lecun_normal"} : tensor<12x1x7x7xf32>
  %b = mixer.param "stem.proj.bias" {init = "zeros"} : tensor<12xf32>
  // 28x21 with patch 7: 4 x 3 = 12 tokens.
  // CHECK: mixer.patch_embed {{.*}} -> tensor<?x12x12xf32>
  %x = mixer.patch_embed %img, %w, %b : (tensor<?x1x28x21xf32>, tensor<12x1x7x7xf32>, tensor<12xf32>) -> tensor<*xf32>
  %w1 = mixer.param "fc1.weight" {init = "xavier_uniform"} : tensor<5x12xf32>
  %b1 = mixer.param "fc1.bias" {init = "zeros"} : tensor<5xf32>
  // CHECK: mixer.dense {{.*}} -> tensor<?x5x12xf32>
  %h = mixer.dense %x, %w1, %b1 {dim = 1 : i64} : (tensor<*xf32>, tensor<5x12xf32>, tensor<5xf32>) -> tensor<*xf32>
  // CHECK: mixer.gelu {{.*}} -> tensor<?x5x12xf32>
  %g = mixer.gelu %h : (tensor<*xf32>) -> tensor<*xf32>
  // CHECK: mixer.global_avg_pool {{.*}} -> tensor<?x12xf32>
  %p = mixer.global_avg_pool %g : (tensor<*xf32>) -> tensor<*xf32>
  // CHECK: return {{.*}} : tensor<?x12xf32>
  return %p : tensor<*xf32>
}
