// RUN: kiln-opt %s --kiln-autodiff --canonicalize --cse | FileCheck %s

// A bias broadcast over the batch gets its gradient summed back over the
// broadcast dimension and reshaped to its own shape.

// CHECK-LABEL: func.func @objective
// CHECK: kiln.loss
// CHECK: %[[S:.*]] = kiln.sum %{{.*}} {axes = array<i64: 0>, keepdim = true} : tensor<8x4xf32>
// CHECK: %[[R:.*]] = kiln.reshape %[[S]] : tensor<1x4xf32> to tensor<4xf32>
// CHECK: kiln.gradient "b" %[[R]] : tensor<4xf32>
func.func @objective() {
  %b = kiln.param "b" {init = {kind = "zeros"}} : tensor<4xf32>
  %x = kiln.input "x" : tensor<8x4xf32>
  %y = kiln.add %x, %b : tensor<8x4xf32>, tensor<4xf32>
  %z = kiln.mul %y, %y : tensor<8x4xf32>, tensor<8x4xf32>
  %l = kiln.sum %z {axes = array<i64: 0, 1>} : tensor<8x4xf32>
  kiln.loss %l : tensor<f32>
  return
}
