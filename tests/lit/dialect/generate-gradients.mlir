// The gradient pass on a tiny MLP-Mixer-like model: patch embedding, a token-mixing residual MLP,
// pool and head. Checks that every forward op gets its gradient rule in reverse order, that the
// residual's two gradients are summed, that every parameter gets exactly one store_grad, and that
// the GELU becomes its training form, which also returns its derivative for the backward pass, and
// that fusion afterwards folds that training form into the dense layer before it and the backward
// multiply into the transposed GEMM.
// RUN: %mixer-opt %s --mixer-generate-gradients | FileCheck %s
// RUN: %mixer-opt %s --mixer-generate-gradients | grep -c mixer.store_grad | FileCheck %s --check-prefix=COUNT
// RUN: %mixer-opt %s --mixer-generate-gradients --mixer-fuse-elementwise | FileCheck %s --check-prefix=FUSED

// One store_grad per parameter (10).
// COUNT: 10

// The forward function is left as it was.
// CHECK-LABEL: func.func @tiny(
// CHECK-NOT: softmax_cross_entropy
// CHECK: return

// CHECK-LABEL: func.func @tiny_train(
// CHECK-SAME: %{{.*}}: tensor<?x1x4x4xf32>, %[[LABELS:.*]]: tensor<?xi32>) -> tensor<?xf32> attributes {mixer.train}
// CHECK: %[[X:.*]] = mixer.patch_embed
// CHECK: %[[N:.*]] = mixer.layer_norm %[[X]], %[[G:[0-9]+]]
// CHECK: %[[H:.*]] = mixer.dense %[[N]], %[[W1:[0-9]+]]
// CHECK: %[[A:.*]], %[[D:.*]] = mixer.gelu_train %[[H]] : (tensor<?x6x8xf32>) -> (tensor<?x6x8xf32>, tensor<?x6x8xf32>)
// CHECK: %[[Y:.*]] = mixer.dense %[[A]], %[[W2:[0-9]+]]
// CHECK: %[[R:.*]] = mixer.add %[[X]], %[[Y]]
// CHECK: %[[P:.*]] = mixer.global_avg_pool %[[R]]
// CHECK: %[[LOGITS:.*]] = mixer.dense %[[P]], %[[WH:[0-9]+]], %[[BH:[0-9]+]]
// CHECK: %[[LOSS:.*]], %[[DLOGITS:.*]] = mixer.softmax_cross_entropy %[[LOGITS]], %[[LABELS]] : (tensor<?x3xf32>, tensor<?xi32>) -> (tensor<?xf32>, tensor<?x3xf32>)
// CHECK: %[[DP:.*]] = mixer.dense_grad_input %[[DLOGITS]], %[[WH]] {dim = 1 : i64}
// CHECK: %[[DWH:.*]] = mixer.dense_grad_weight %[[P]], %[[DLOGITS]] {dim = 1 : i64} : (tensor<?x8xf32>, tensor<?x3xf32>) -> tensor<3x8xf32>
// CHECK: %[[DBH:.*]] = mixer.bias_grad %[[DLOGITS]] {dim = 1 : i64} : (tensor<?x3xf32>) -> tensor<3xf32>
// CHECK: mixer.store_grad %[[BH]], %[[DBH]]
// CHECK: mixer.store_grad %[[WH]], %[[DWH]]
// CHECK: %[[DR:.*]] = mixer.global_avg_pool_grad %[[DP]] : (tensor<?x8xf32>) -> tensor<?x4x8xf32>
// CHECK: %[[DA:.*]] = mixer.dense_grad_input %[[DR]], %[[W2]] {dim = 1 : i64} : (tensor<?x4x8xf32>, tensor<4x6xf32>) -> tensor<?x6x8xf32>
// CHECK: mixer.dense_grad_weight %[[A]], %[[DR]]
// CHECK: %[[DH:.*]] = mixer.mul %[[DA]], %[[D]]
// CHECK: %[[DN:.*]] = mixer.dense_grad_input %[[DH]], %[[W1]]
// CHECK: %[[DX:.*]] = mixer.layer_norm_grad %[[X]], %[[G]], %[[DN]]
// CHECK: %[[DSUM:.*]] = mixer.add %[[DR]], %[[DX]]
// CHECK: %[[DG:.*]], %[[DB:.*]] = mixer.layer_norm_param_grad %[[X]], %[[DN]]
// CHECK: mixer.store_grad %[[G]], %[[DG]]
// CHECK: %[[DW:.*]] = mixer.patch_embed_grad_weight %{{.*}}, %[[DSUM]] : (tensor<?x1x4x4xf32>, tensor<?x4x8xf32>) -> tensor<8x1x2x2xf32>
// CHECK: mixer.bias_grad %[[DSUM]] {dim = 2 : i64}
// CHECK: return %[[LOSS]] : tensor<?xf32>

// Fusion folds the residual into fc2 in the training function too, and fc1's GELU, in its
// training form, into fc1, which then also returns the derivative. In the backward half the
// multiply by that derivative folds into fc2's transposed GEMM, and the residual's gradient sum
// and the gamma and beta gradients into the layer-norm gradient.
// FUSED-LABEL: func.func @tiny_train
// FUSED: %[[A:.*]], %[[D:.*]] = mixer.dense {{.*}} {activation = "gelu_erf", dim = 1 : i64} : {{.*}} -> (tensor<?x6x8xf32>, tensor<?x6x8xf32>)
// FUSED-NOT: mixer.gelu_train
// FUSED: mixer.dense %[[A]], {{.*}} residual
// FUSED: %[[DR:.*]] = mixer.global_avg_pool_grad
// FUSED: mixer.dense_grad_input %[[DR]], %{{.*}}, %[[D]] {dim = 1 : i64}
// FUSED-NOT: mixer.mul
// FUSED-NOT: mixer.add
// FUSED: %{{.*}}, %[[FG:[a-z_0-9]+]]:2 = mixer.layer_norm_grad %{{.*}}, %{{.*}}, %{{.*}}, %[[DR]] {epsilon = {{.*}}} : {{.*}} -> (tensor<?x4x8xf32>, tensor<8xf32>, tensor<8xf32>)
// FUSED-NOT: mixer.layer_norm_param_grad
// FUSED-DAG: mixer.store_grad %{{.*}}, %[[FG]]#0
// FUSED-DAG: mixer.store_grad %{{.*}}, %[[FG]]#1
// FUSED-NOT: mixer.add
// FUSED: return

func.func @tiny(%img: tensor<?x1x4x4xf32>) -> tensor<?x3xf32> {
  %w = mixer.param "stem.proj.weight" {init = "lecun_normal"} : tensor<8x1x2x2xf32>
  %b = mixer.param "stem.proj.bias" {init = "zeros"} : tensor<8xf32>
  %x = mixer.patch_embed %img, %w, %b : (tensor<?x1x4x4xf32>, tensor<8x1x2x2xf32>, tensor<8xf32>) -> tensor<?x4x8xf32>
  %g = mixer.param "norm.weight" {init = "ones"} : tensor<8xf32>
  %be = mixer.param "norm.bias" {init = "zeros"} : tensor<8xf32>
  %n = mixer.layer_norm %x, %g, %be {epsilon = 1.0e-06 : f64} : (tensor<?x4x8xf32>, tensor<8xf32>, tensor<8xf32>) -> tensor<?x4x8xf32>
  %w1 = mixer.param "fc1.weight" {init = "xavier_uniform"} : tensor<6x4xf32>
  %b1 = mixer.param "fc1.bias" {init = "zeros"} : tensor<6xf32>
  %h = mixer.dense %n, %w1, %b1 {dim = 1 : i64} : (tensor<?x4x8xf32>, tensor<6x4xf32>, tensor<6xf32>) -> tensor<?x6x8xf32>
  %a = mixer.gelu %h : (tensor<?x6x8xf32>) -> tensor<?x6x8xf32>
  %w2 = mixer.param "fc2.weight" {init = "xavier_uniform"} : tensor<4x6xf32>
  %b2 = mixer.param "fc2.bias" {init = "zeros"} : tensor<4xf32>
  %y = mixer.dense %a, %w2, %b2 {dim = 1 : i64} : (tensor<?x6x8xf32>, tensor<4x6xf32>, tensor<4xf32>) -> tensor<?x4x8xf32>
  %r = mixer.add %x, %y : (tensor<?x4x8xf32>, tensor<?x4x8xf32>) -> tensor<?x4x8xf32>
  %p = mixer.global_avg_pool %r : (tensor<?x4x8xf32>) -> tensor<?x8xf32>
  %wh = mixer.param "head.weight" {init = "zeros"} : tensor<3x8xf32>
  %bh = mixer.param "head.bias" {init = "zeros"} : tensor<3xf32>
  %o = mixer.dense %p, %wh, %bh {dim = 1 : i64} : (tensor<?x8xf32>, tensor<3x8xf32>, tensor<3xf32>) -> tensor<?x3xf32>
  return %o : tensor<?x3xf32>
}
