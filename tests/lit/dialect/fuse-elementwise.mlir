// Fusion folds GELU and the residual add into the dense ops (and, in a training function, GELU's
// training form); a dense with other uses is left alone.
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

// A ConvMixer block: act and BatchNorm fold into the stem, the depthwise conv takes act, norm and
// the residual, the pointwise conv act and norm.
// CHECK-LABEL: func.func @conv_mixer_block
func.func @conv_mixer_block(%img: tensor<?x3x12x12xf32>) -> tensor<?x4x4x8xf32> {
  %w = mixer.param "stem.0.weight" {init = "uniform_fan_in"} : tensor<8x3x3x3xf32>
  %b = mixer.param "stem.0.bias" {init = "zeros"} : tensor<8xf32>
  // CHECK: %[[STEM:.*]] = mixer.patch_embed %arg0, {{.*}} norm(%[[G:[^,]*]], %[[BE:[^,]*]], %[[M:[^,]*]], %[[V:[^)]*]]) {activation = "relu", grid, norm_epsilon = 1.000000e-03 : f64}
  %x = mixer.patch_embed %img, %w, %b {grid} : (tensor<?x3x12x12xf32>, tensor<8x3x3x3xf32>, tensor<8xf32>) -> tensor<?x4x4x8xf32>
  %r = mixer.relu %x : (tensor<?x4x4x8xf32>) -> tensor<?x4x4x8xf32>
  %g = mixer.param "stem.2.weight" {init = "ones"} : tensor<8xf32>
  %be = mixer.param "stem.2.bias" {init = "zeros"} : tensor<8xf32>
  %m = mixer.param "stem.2.running_mean" {init = "zeros"} : tensor<8xf32>
  %v = mixer.param "stem.2.running_var" {init = "ones"} : tensor<8xf32>
  %s = mixer.batch_norm %r, %g, %be, %m, %v {epsilon = 1.0e-3 : f64} : (tensor<?x4x4x8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>) -> tensor<?x4x4x8xf32>
  %dw = mixer.param "blocks.0.0.fn.0.weight" {init = "uniform_fan_in"} : tensor<8x1x3x3xf32>
  // CHECK: %[[DW:.*]] = mixer.depthwise_conv2d %[[STEM]], {{.*}} norm(%[[G]], %[[BE]], %[[M]], %[[V]]) residual %[[STEM]] {activation = "gelu_erf", norm_epsilon = 1.000000e-03 : f64}
  %d = mixer.depthwise_conv2d %s, %dw, %b : (tensor<?x4x4x8xf32>, tensor<8x1x3x3xf32>, tensor<8xf32>) -> tensor<?x4x4x8xf32>
  %a = mixer.gelu %d : (tensor<?x4x4x8xf32>) -> tensor<?x4x4x8xf32>
  %n = mixer.batch_norm %a, %g, %be, %m, %v {epsilon = 1.0e-3 : f64} : (tensor<?x4x4x8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>) -> tensor<?x4x4x8xf32>
  %res = mixer.add %s, %n : (tensor<?x4x4x8xf32>, tensor<?x4x4x8xf32>) -> tensor<?x4x4x8xf32>
  %pw = mixer.param "blocks.0.1.weight" {init = "uniform_fan_in"} : tensor<8x8x1x1xf32>
  // CHECK: %[[PW:.*]] = mixer.dense %[[DW]], {{.*}} norm({{.*}}) {activation = "relu", dim = 3 : i64, norm_epsilon = 1.000000e-03 : f64}
  %y = mixer.dense %res, %pw, %b {dim = 3 : i64} : (tensor<?x4x4x8xf32>, tensor<8x8x1x1xf32>, tensor<8xf32>) -> tensor<?x4x4x8xf32>
  %ya = mixer.relu %y : (tensor<?x4x4x8xf32>) -> tensor<?x4x4x8xf32>
  %yn = mixer.batch_norm %ya, %g, %be, %m, %v {epsilon = 1.0e-3 : f64} : (tensor<?x4x4x8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>) -> tensor<?x4x4x8xf32>
  // CHECK-NOT: mixer.relu
  // CHECK-NOT: mixer.batch_norm
  // CHECK: return %[[PW]]
  return %yn : tensor<?x4x4x8xf32>
}

// The epilogue order is residual + norm(act(x)): an activation after a fused BatchNorm, or a
// BatchNorm after a fused residual, stays a separate op.
// CHECK-LABEL: func.func @epilogue_order
func.func @epilogue_order(%x: tensor<?x4x4x8xf32>, %v: tensor<8xf32>) -> tensor<?x4x4x8xf32> {
  %dw = mixer.param "dw.weight" {init = "uniform_fan_in"} : tensor<8x1x3x3xf32>
  // CHECK: mixer.depthwise_conv2d {{.*}} norm({{[^)]*}}) : 
  %d = mixer.depthwise_conv2d %x, %dw, %v : (tensor<?x4x4x8xf32>, tensor<8x1x3x3xf32>, tensor<8xf32>) -> tensor<?x4x4x8xf32>
  %n = mixer.batch_norm %d, %v, %v, %v, %v : (tensor<?x4x4x8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>) -> tensor<?x4x4x8xf32>
  // CHECK: mixer.relu
  %r = mixer.relu %n : (tensor<?x4x4x8xf32>) -> tensor<?x4x4x8xf32>
  %pw = mixer.param "pw.weight" {init = "uniform_fan_in"} : tensor<8x8x1x1xf32>
  // CHECK: mixer.dense {{.*}} residual
  %y = mixer.dense %r, %pw, %v {dim = 3 : i64} : (tensor<?x4x4x8xf32>, tensor<8x8x1x1xf32>, tensor<8xf32>) -> tensor<?x4x4x8xf32>
  %s = mixer.add %y, %x : (tensor<?x4x4x8xf32>, tensor<?x4x4x8xf32>) -> tensor<?x4x4x8xf32>
  // CHECK: mixer.batch_norm
  %z = mixer.batch_norm %s, %v, %v, %v, %v : (tensor<?x4x4x8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>) -> tensor<?x4x4x8xf32>
  return %z : tensor<?x4x4x8xf32>
}

// A backward multiply folds into the transposed GEMM that produces its gradient, whichever side
// it is on, but not when that GEMM's result has another use.
// CHECK-LABEL: func.func @grad_scale
func.func @grad_scale(%dy: tensor<?x4x16xf32>, %d: tensor<?x4x64xf32>) -> (tensor<?x4x64xf32>, tensor<?x4x64xf32>, tensor<?x4x64xf32>) {
  %w = mixer.param "fc2.weight" {init = "xavier_uniform"} : tensor<16x64xf32>
  // CHECK: %[[A:.*]] = mixer.dense_grad_input %arg0, %{{.*}}, %arg1 {dim = 2 : i64}
  %da = mixer.dense_grad_input %dy, %w {dim = 2 : i64} : (tensor<?x4x16xf32>, tensor<16x64xf32>) -> tensor<?x4x64xf32>
  %a = mixer.mul %d, %da : (tensor<?x4x64xf32>, tensor<?x4x64xf32>) -> tensor<?x4x64xf32>
  // CHECK: %[[B:.*]] = mixer.dense_grad_input %arg0, %{{.*}} {dim = 2 : i64}
  // CHECK: %[[C:.*]] = mixer.mul %[[B]], %arg1
  %db = mixer.dense_grad_input %dy, %w {dim = 2 : i64} : (tensor<?x4x16xf32>, tensor<16x64xf32>) -> tensor<?x4x64xf32>
  %b = mixer.mul %db, %d : (tensor<?x4x64xf32>, tensor<?x4x64xf32>) -> tensor<?x4x64xf32>
  // CHECK: return %[[A]], %[[C]], %[[B]]
  return %a, %b, %db : tensor<?x4x64xf32>, tensor<?x4x64xf32>, tensor<?x4x64xf32>
}

// In a training function GELU's training form folds into the dense layer that feeds it, which then
// returns the derivative as well; not when the dense result has another use, nor when its epilogue
// already holds something (here a residual).
// CHECK-LABEL: func.func @gelu_train
func.func @gelu_train(%x: tensor<?x4x16xf32>) -> (tensor<?x4x64xf32>, tensor<?x4x64xf32>, tensor<?x4x64xf32>, tensor<?x4x64xf32>, tensor<?x4x64xf32>, tensor<?x4x16xf32>, tensor<?x4x16xf32>) {
  %w = mixer.param "fc1.weight" {init = "xavier_uniform"} : tensor<64x16xf32>
  %b = mixer.param "fc1.bias" {init = "zeros"} : tensor<64xf32>
  // CHECK: %[[G:.*]], %[[D:.*]] = mixer.dense %arg0, %{{.*}}, %{{.*}} {activation = "gelu_tanh", dim = 2 : i64} : (tensor<?x4x16xf32>, tensor<64x16xf32>, tensor<64xf32>) -> (tensor<?x4x64xf32>, tensor<?x4x64xf32>)
  %h = mixer.dense %x, %w, %b {dim = 2 : i64} : (tensor<?x4x16xf32>, tensor<64x16xf32>, tensor<64xf32>) -> tensor<?x4x64xf32>
  %g, %d = mixer.gelu_train %h {approximation = "tanh"} : (tensor<?x4x64xf32>) -> (tensor<?x4x64xf32>, tensor<?x4x64xf32>)
  // CHECK: %[[H2:.*]] = mixer.dense %arg0, %{{.*}}, %{{.*}} {dim = 2 : i64} : (tensor<?x4x16xf32>, tensor<64x16xf32>, tensor<64xf32>) -> tensor<?x4x64xf32>
  // CHECK-NEXT: %[[G2:.*]], %[[D2:.*]] = mixer.gelu_train %[[H2]]
  %h2 = mixer.dense %x, %w, %b {dim = 2 : i64} : (tensor<?x4x16xf32>, tensor<64x16xf32>, tensor<64xf32>) -> tensor<?x4x64xf32>
  %g2, %d2 = mixer.gelu_train %h2 : (tensor<?x4x64xf32>) -> (tensor<?x4x64xf32>, tensor<?x4x64xf32>)
  %w3 = mixer.param "fc3.weight" {init = "xavier_uniform"} : tensor<16x16xf32>
  %b3 = mixer.param "fc3.bias" {init = "zeros"} : tensor<16xf32>
  // CHECK: %[[H3:.*]] = mixer.dense %arg0, %{{.*}}, %{{.*}} residual %arg0 {dim = 2 : i64} : {{.*}} -> tensor<?x4x16xf32>
  // CHECK-NEXT: %[[G3:.*]], %[[D3:.*]] = mixer.gelu_train %[[H3]]
  %h3 = mixer.dense %x, %w3, %b3 {dim = 2 : i64} : (tensor<?x4x16xf32>, tensor<16x16xf32>, tensor<16xf32>) -> tensor<?x4x16xf32>
  %r3 = mixer.add %h3, %x : (tensor<?x4x16xf32>, tensor<?x4x16xf32>) -> tensor<?x4x16xf32>
  %g3, %d3 = mixer.gelu_train %r3 : (tensor<?x4x16xf32>) -> (tensor<?x4x16xf32>, tensor<?x4x16xf32>)
  // CHECK: return %[[G]], %[[D]], %[[G2]], %[[D2]], %[[H2]], %[[G3]], %[[D3]]
  return %g, %d, %g2, %d2, %h2, %g3, %d3 : tensor<?x4x64xf32>, tensor<?x4x64xf32>, tensor<?x4x64xf32>, tensor<?x4x64xf32>, tensor<?x4x64xf32>, tensor<?x4x16xf32>, tensor<?x4x16xf32>
}

// The gamma and beta gradients fold into the layer-norm gradient of the same input, output
// gradient and epsilon, at the earlier op's place; not into one of another epsilon, nor into one
// whose residual is defined only after the (earlier) parameter gradients.
// CHECK-LABEL: func.func @layer_norm_param_grads
func.func @layer_norm_param_grads(%x: tensor<?x4x8xf32>, %dy: tensor<?x4x8xf32>, %dz: tensor<?x4x8xf32>, %g: tensor<8xf32>, %dw: tensor<?x4x8xf32>) -> (tensor<?x4x8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<?x4x8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<?x4x8xf32>, tensor<8xf32>, tensor<8xf32>) {
  // CHECK: %[[DX:[a-z_0-9]+]], %[[P:[a-z_0-9]+]]:2 = mixer.layer_norm_grad %arg0, %arg3, %arg1 {epsilon = {{.*}}} : {{.*}} -> (tensor<?x4x8xf32>, tensor<8xf32>, tensor<8xf32>)
  %dx = mixer.layer_norm_grad %x, %g, %dy {epsilon = 1.0e-6 : f64} : (tensor<?x4x8xf32>, tensor<8xf32>, tensor<?x4x8xf32>) -> tensor<?x4x8xf32>
  // CHECK-NOT: mixer.layer_norm_param_grad %arg0, %arg1
  %dg, %db = mixer.layer_norm_param_grad %x, %dy {epsilon = 1.0e-6 : f64} : (tensor<?x4x8xf32>, tensor<?x4x8xf32>) -> (tensor<8xf32>, tensor<8xf32>)
  // CHECK: %[[DX2:[a-z_0-9]+]] = mixer.layer_norm_grad %arg0, %arg3, %arg2 {epsilon = {{.*}}} : {{.*}} -> tensor<?x4x8xf32>
  // CHECK-NEXT: %[[G2:[a-z_0-9]+]], %[[B2:[a-z_0-9]+]] = mixer.layer_norm_param_grad %arg0, %arg2 {epsilon = 1.000000e-05 : f64}
  %dx2 = mixer.layer_norm_grad %x, %g, %dz {epsilon = 1.0e-6 : f64} : (tensor<?x4x8xf32>, tensor<8xf32>, tensor<?x4x8xf32>) -> tensor<?x4x8xf32>
  %dg2, %db2 = mixer.layer_norm_param_grad %x, %dz {epsilon = 1.0e-5 : f64} : (tensor<?x4x8xf32>, tensor<?x4x8xf32>) -> (tensor<8xf32>, tensor<8xf32>)
  // CHECK-NEXT: %[[G3:[a-z_0-9]+]], %[[B3:[a-z_0-9]+]] = mixer.layer_norm_param_grad %arg0, %arg4
  // CHECK-NEXT: %[[LATE:.*]] = mixer.mul
  // CHECK-NEXT: %[[DX3:[a-z_0-9]+]] = mixer.layer_norm_grad %arg0, %arg3, %arg4, %[[LATE]] {epsilon = {{.*}}} : {{.*}} -> tensor<?x4x8xf32>
  %dg3, %db3 = mixer.layer_norm_param_grad %x, %dw {epsilon = 1.0e-6 : f64} : (tensor<?x4x8xf32>, tensor<?x4x8xf32>) -> (tensor<8xf32>, tensor<8xf32>)
  %late = mixer.mul %dw, %dw : (tensor<?x4x8xf32>, tensor<?x4x8xf32>) -> tensor<?x4x8xf32>
  %dx3 = mixer.layer_norm_grad %x, %g, %dw, %late {epsilon = 1.0e-6 : f64} : (tensor<?x4x8xf32>, tensor<8xf32>, tensor<?x4x8xf32>, tensor<?x4x8xf32>) -> tensor<?x4x8xf32>
  // CHECK: return %[[DX]], %[[P]]#0, %[[P]]#1, %[[DX2]], %[[G2]], %[[B2]], %[[DX3]], %[[G3]], %[[B3]]
  return %dx, %dg, %db, %dx2, %dg2, %db2, %dx3, %dg3, %db3 : tensor<?x4x8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<?x4x8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<?x4x8xf32>, tensor<8xf32>, tensor<8xf32>
}
