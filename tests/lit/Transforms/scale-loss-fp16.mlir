// RUN: kiln-opt %s --kiln-scale-loss | FileCheck %s

// With the graph's precision fp16, the loss scale is state initialised to
// GradScaler's init_scale, reported as a metric, and the seed of backward.

// CHECK: %[[S:.*]] = kiln.state "fp16_scaler.scale" {init = {kind = "constant", value = 1.024000e+03 : f64}} : tensor<f32>
// CHECK: %[[L:.*]] = kiln.sum
// CHECK: kiln.metric "loss_scale" %[[S]] : tensor<f32>
// CHECK-NEXT: kiln.loss %[[L]] scaled_by %[[S]] : tensor<f32>
module attributes {kiln.train = {precision = "fp16", loss_scale = {init_scale = 1024 : i64}}} {
  func.func @objective() {
    %w = kiln.param "w" {init = {kind = "zeros"}} : tensor<3xf32>
    %l = kiln.sum %w {axes = array<i64: 0>} : tensor<3xf32>
    kiln.loss %l : tensor<f32>
    return
  }
}
