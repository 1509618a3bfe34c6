// RUN: kiln-opt %s --pass-pipeline='builtin.module(func.func(kiln-autodiff))' | FileCheck %s

// Backward starts from the loss's scale instead of 1: the gradient of
// Σ w is the scale in every element.

// CHECK: %[[S:.*]] = kiln.state "scale"
// CHECK: %[[R:.*]] = kiln.reshape %[[S]]
// CHECK: %[[G:.*]] = kiln.broadcast %[[R]]
// CHECK: kiln.gradient "w" %[[G]] : tensor<3xf32>
module {
  func.func @objective() {
    %w = kiln.param "w" {init = {kind = "zeros"}} : tensor<3xf32>
    %s = kiln.state "scale" {init = {kind = "constant", value = 8.0 : f64}} : tensor<f32>
    %l = kiln.sum %w {axes = array<i64: 0>} : tensor<3xf32>
    kiln.loss %l scaled_by %s : tensor<f32>
    return
  }
}
