// RUN: kiln-opt %s --kiln-autodiff --canonicalize --cse | FileCheck %s

// Nothing flows through stop_gradient: "t" is read only behind it and gets
// no gradient, and no gradient work is built for its branch (no exp).

// CHECK-LABEL: func.func @objective
// CHECK: kiln.loss
// CHECK-NOT: kiln.exp
// CHECK: kiln.gradient "s"
// CHECK-NOT: kiln.gradient "t"
// CHECK: return
func.func @objective() {
  %s = kiln.param "s" {init = {kind = "zeros"}} : tensor<4xf32>
  %t = kiln.param "t" {init = {kind = "zeros"}} : tensor<4xf32>
  %e = kiln.exp %t : tensor<4xf32>
  %q = kiln.stop_gradient %e : tensor<4xf32>
  %p = kiln.mul %s, %q : tensor<4xf32>, tensor<4xf32>
  %l = kiln.sum %p {axes = array<i64: 0>} : tensor<4xf32>
  kiln.loss %l : tensor<f32>
  return
}
