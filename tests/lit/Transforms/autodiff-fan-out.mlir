// RUN: kiln-opt %s --kiln-autodiff | FileCheck %s

// A value used twice gets the sum of both uses' gradients, then flows on:
// d Σ(e^w · e^w) / dw = (g·y + g·y)·e^w.

// CHECK-LABEL: func.func @objective
// CHECK: %[[W:.*]] = kiln.param "w"
// CHECK: %[[Y:.*]] = kiln.exp %[[W]]
// CHECK: kiln.loss
// CHECK: %[[G:.*]] = kiln.broadcast
// CHECK: %[[A:.*]] = kiln.mul %[[G]], %[[Y]]
// CHECK: %[[B:.*]] = kiln.mul %[[G]], %[[Y]]
// CHECK: %[[SUM:.*]] = kiln.add %[[A]], %[[B]]
// CHECK: %[[DW:.*]] = kiln.mul %[[SUM]], %[[Y]]
// CHECK: kiln.gradient "w" %[[DW]] : tensor<4xf32>
func.func @objective() {
  %w = kiln.param "w" {init = {kind = "zeros"}} : tensor<4xf32>
  %y = kiln.exp %w : tensor<4xf32>
  %z = kiln.mul %y, %y : tensor<4xf32>, tensor<4xf32>
  %l = kiln.sum %z {axes = array<i64: 0>} : tensor<4xf32>
  kiln.loss %l : tensor<f32>
  return
}
