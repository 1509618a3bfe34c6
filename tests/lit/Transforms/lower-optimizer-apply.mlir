// RUN: kiln-opt %s --kiln-lower-optimizer | FileCheck %s

// A gradient with `if %ok` (a skipped fp16 step when false) updates its
// parameter, momentum buffer and nothing else only where %ok holds.

// CHECK-DAG: %[[W:.*]] = kiln.param "w"
// CHECK-DAG: %[[BUF:.*]] = kiln.state "optimizer.momentum_buffer.w"
// CHECK-DAG: %[[OK:.*]] = kiln.compare "gt"
// CHECK: %[[NEXT_BUF:.*]] = kiln.add
// CHECK: %[[KEPT_BUF:.*]] = kiln.select %[[OK]], %[[NEXT_BUF]], %[[BUF]]
// CHECK: kiln.update_state "optimizer.momentum_buffer.w" %[[KEPT_BUF]]
// CHECK: %[[KEPT_W:.*]] = kiln.select %[[OK]], %{{.*}}, %[[W]]
// CHECK: kiln.update_param "w" %[[KEPT_W]]
module attributes {kiln.optimizer = {kind = "sgd", lr = 1.0e-01 : f64, momentum = 9.0e-01 : f64}} {
  func.func @objective() {
    %w = kiln.param "w" {init = {kind = "zeros"}} : tensor<2x3xf32>
    %g = kiln.input "g" : tensor<2x3xf32>
    %x = kiln.input "x" : tensor<f32>
    %l = kiln.constant dense<0.0> : tensor<f32>
    %ok = kiln.compare "gt", %x, %l : tensor<f32>, tensor<f32>
    kiln.loss %l : tensor<f32>
    kiln.gradient "w" %g if %ok : tensor<2x3xf32>
    return
  }
}
