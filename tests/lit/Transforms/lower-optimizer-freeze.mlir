// RUN: kiln-opt %s --kiln-lower-optimizer | FileCheck %s

// A frozen set (DINO's last layer for the first epoch) is gated by a
// from_epoch schedule: its parameter, moments and its own step count keep
// their values until the epoch comes; other parameters are not gated.

// CHECK-DAG: %[[GATE:.*]] = kiln.schedule "optimizer.freeze.0" {spec = {epoch = 1 : i64, kind = "from_epoch"}} : tensor<f32>
// CHECK-DAG: %[[HEAD:.*]] = kiln.param "net.last_layer.weight"
// CHECK-DAG: %[[STEP:.*]] = kiln.state "optimizer.step.freeze.0"
// CHECK-DAG: kiln.state "optimizer.step" {
// CHECK: %[[ACTIVE:.*]] = kiln.compare "gt", %[[GATE]], %{{.*}}
// CHECK: %[[T:.*]] = kiln.add %[[STEP]], %{{.*}}
// CHECK: kiln.update_param "net.backbone.weight" %{{[a-z_0-9.]+}} :
// CHECK: %[[KEPT_T:.*]] = kiln.select %[[ACTIVE]], %[[T]], %[[STEP]]
// CHECK: kiln.update_state "optimizer.step.freeze.0" %[[KEPT_T]]
// CHECK: kiln.select %[[ACTIVE]]
// CHECK: kiln.update_state "optimizer.exp_avg.net.last_layer.weight"
// CHECK: kiln.select %[[ACTIVE]]
// CHECK: kiln.update_state "optimizer.exp_avg_sq.net.last_layer.weight"
// CHECK: %[[KEPT_P:.*]] = kiln.select %[[ACTIVE]], %{{.*}}, %[[HEAD]]
// CHECK: kiln.update_param "net.last_layer.weight" %[[KEPT_P]]
module attributes {kiln.optimizer = {kind = "adamw", lr = 1.0e-03 : f64, freeze = [{match = "*last_layer*", epochs = 1 : i64}]}} {
  func.func @objective() {
    %w = kiln.param "net.backbone.weight" {init = {kind = "zeros"}} : tensor<4x4xf32>
    %h = kiln.param "net.last_layer.weight" {init = {kind = "zeros"}} : tensor<8x4xf32>
    %gw = kiln.input "gw" : tensor<4x4xf32>
    %gh = kiln.input "gh" : tensor<8x4xf32>
    %l = kiln.constant dense<0.0> : tensor<f32>
    kiln.loss %l : tensor<f32>
    kiln.gradient "net.backbone.weight" %gw : tensor<4x4xf32>
    kiln.gradient "net.last_layer.weight" %gh : tensor<8x4xf32>
    return
  }
}
