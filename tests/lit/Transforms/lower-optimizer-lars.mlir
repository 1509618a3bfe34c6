// RUN: kiln-opt %s --kiln-lower-optimizer | FileCheck %s

// DINO's LARS: the matrix gets decay and the trust ratio η‖p‖/‖d‖ (both
// norms positive, else 1); the 1-D bias gets neither, only momentum.

// CHECK-DAG: %[[W:.*]] = kiln.param "w"
// CHECK-DAG: %[[MUW:.*]] = kiln.state "optimizer.mu.w"
// CHECK-DAG: %[[MUB:.*]] = kiln.state "optimizer.mu.b"
// CHECK: kiln.loss
// CHECK: kiln.sqrt
// CHECK: kiln.compare "gt"
// CHECK: kiln.select
// CHECK-NOT: kiln.sqrt
// CHECK: %[[MB:.*]] = kiln.mul %[[MUB]], %{{.*}}
// CHECK: %[[MUB1:.*]] = kiln.add %[[MB]], %{{.*}} : tensor<4xf32>
// CHECK: kiln.update_state "optimizer.mu.w"
// CHECK: kiln.update_param "w"
// CHECK: kiln.update_state "optimizer.mu.b" %[[MUB1]]
// CHECK: kiln.update_param "b"
module attributes {kiln.optimizer = {kind = "lars", lr = 1.0e-01 : f64, weight_decay = 1.0e-06 : f64, momentum = 9.0e-01 : f64}} {
  func.func @objective() {
    %w = kiln.param "w" {init = {kind = "zeros"}} : tensor<3x4xf32>
    %b = kiln.param "b" {init = {kind = "zeros"}} : tensor<4xf32>
    %x = kiln.input "x" : tensor<3x4xf32>
    %y = kiln.input "y" : tensor<4xf32>
    %l = kiln.constant dense<0.0> : tensor<f32>
    kiln.loss %l : tensor<f32>
    kiln.gradient "w" %x : tensor<3x4xf32>
    kiln.gradient "b" %y : tensor<4xf32>
    return
  }
}
