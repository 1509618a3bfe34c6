// RUN: kiln-opt %s --kiln-lower-batch-norm | FileCheck %s
// RUN: kiln-opt %s --kiln-lower-batch-norm --kiln-autodiff --canonicalize --cse | FileCheck %s --check-prefix=GRAD

// A synchronised batch norm: the batch mean, then the variance about it,
// each averaged over the ranks by an all-reduce before normalising; the
// running variance is unbiased over the global batch (n = 2 ranks · 4 ·
// 2 · 2 = 32: momentum · 32/31).
// CHECK-LABEL: func.func @objective
// CHECK: %[[X:.*]] = kiln.mul %{{.*}}, %{{.*}} : tensor<4x3x2x2xf32>, tensor<1x3x1x1xf32>
// CHECK: %[[MEAN:.*]] = kiln.mean %[[X]] {axes = array<i64: 0, 2, 3>, keepdim = true} : tensor<4x3x2x2xf32>
// CHECK: %[[GMEAN:.*]] = kiln.all_reduce %[[MEAN]] {{.*}}: tensor<1x3x1x1xf32>
// CHECK: kiln.sub %[[X]], %[[GMEAN]]
// CHECK: %[[VAR:.*]] = kiln.mean {{.*}} {axes = array<i64: 0, 2, 3>, keepdim = true}
// CHECK: %[[GVAR:.*]] = kiln.all_reduce %[[VAR]]
// CHECK: kiln.constant dense<0.103225{{[0-9]*}}>
// CHECK: kiln.rsqrt
// CHECK-NOT: kiln.batch_norm

// Backward: the all-reduce's gradient averages the per-channel sums too.
// GRAD: kiln.loss
// GRAD: kiln.all_reduce {{.*}} : tensor<1x3x1x1xf32>
// GRAD: kiln.gradient "s"
module attributes {kiln.ranks = 2 : i64} {
  func.func @objective() {
    %g = kiln.param "g" {init = {kind = "ones"}} : tensor<3xf32>
    %b = kiln.param "b" {init = {kind = "zeros"}} : tensor<3xf32>
    %rm = kiln.state "rm" {init = {kind = "zeros"}} : tensor<3xf32>
    %rv = kiln.state "rv" {init = {kind = "ones"}} : tensor<3xf32>
    %s = kiln.param "s" {init = {kind = "ones"}} : tensor<1x3x1x1xf32>
    %in = kiln.input "x" : tensor<4x3x2x2xf32>
    %x = kiln.mul %in, %s : tensor<4x3x2x2xf32>, tensor<1x3x1x1xf32>
    %w = kiln.input "w" : tensor<4x3x2x2xf32>
    %y, %m, %v = kiln.batch_norm %x, %g, %b, %rm, %rv {sync = true} : tensor<4x3x2x2xf32>, tensor<3xf32>, tensor<3xf32>, tensor<3xf32>, tensor<3xf32>
    %yw = kiln.mul %y, %w : tensor<4x3x2x2xf32>, tensor<4x3x2x2xf32>
    %l = kiln.sum %yw {axes = array<i64: 0, 1, 2, 3>} : tensor<4x3x2x2xf32>
    kiln.loss %l : tensor<f32>
    kiln.update_state "rm" %m : tensor<3xf32>
    kiln.update_state "rv" %v : tensor<3xf32>
    return
  }
}
