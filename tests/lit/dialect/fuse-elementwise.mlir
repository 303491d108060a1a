// Fusion folds GELU and the residual add into the dense ops; a dense with other uses is left alone.
// RUN: %mixer-opt %s --mixer-fuse-elementwise | FileCheck %s

// CHECK-LABEL: func.func @mlp_block
func.func @mlp_block(%x: tensor<?x24x16xf32>) -> tensor<?x24x16xf32> {
  %w1 = mixer.param "fc1.weight" {init = "xavier_uniform"} : tensor<64x16xf32>
  %b1 = mixer.param "fc1.bias" {init = "zeros"} : tensor<64xf32>
  %w2 = mixer.param "fc2.weight" {init = "xavier_uniform"} : tensor<16x64xf32>
  %b2 = mixer.param "fc2.bias" {init = "zeros"} : tensor<16xf32>
  // CHECK: %[[H:.*]] = mixer.dense %{{.*}} {activation = "gelu_tanh", dim = 2 : i64}
  %h = mixer.dense %x, %w1, %b1 {dim = 2 : i64} : (tensor<?x24x16xf32>, tensor<64x16xf32>, tensor<64xf32>) -> tensor<?x24x64xf32>
  %g = mixer.gelu %h {approximation = "tanh"} : (tensor<?x24x64xf32>) -> tensor<?x24x64xf32>
  // CHECK-NEXT: %[[Y:.*]] = mixer.dense %[[H]], {{.*}} residual %arg0 {dim = 2 : i64}
  %y = mixer.dense %g, %w2, %b2 {dim = 2 : i64} : (tensor<?x24x64xf32>, tensor<16x64xf32>, tensor<16xf32>) -> tensor<?x24x16xf32>
  // CHECK-NOT: mixer.gelu
  // CHECK-NOT: mixer.add
  %z = mixer.add %x, %y : (tensor<?x24x16xf32>, tensor<?x24x16xf32>) -> tensor<?x24x16xf32>
  // CHECK: return %[[Y]]
  return %z : tensor<?x24x16xf32>
}

// CHECK-LABEL: func.func @shared_dense
func.func @shared_dense(%x: tensor<?x4x16xf32>) -> (tensor<?x4x16xf32>, tensor<?x4x16xf32>) {
  %w = mixer.param "fc.weight" {init = "xavier_uniform"} : tensor<16x16xf32>
  %b = mixer.param "fc.bias" {init = "zeros"} : tensor<16xf32>
  // CHECK: mixer.dense {{.*}} {dim = 2 : i64}
  // CHECK: mixer.gelu
  %h = mixer.dense %x, %w, %b {dim = 2 : i64} : (tensor<?x4x16xf32>, tensor<16x16xf32>, tensor<16xf32>) -> tensor<?x4x16xf32>
  %g = mixer.gelu %h : (tensor<?x4x16xf32>) -> tensor<?x4x16xf32>
  return %g, %h : tensor<?x4x16xf32>, tensor<?x4x16xf32>
}
