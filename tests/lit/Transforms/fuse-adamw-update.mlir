// RUN: kiln-opt %s --kiln-lower-optimizer --canonicalize --cse --kiln-fuse | FileCheck %s

// The AdamW update of one parameter (decay, both moments, bias-corrected
// step) is one elementwise region that writes the parameter and both
// moments; the scalar bias corrections share a single-iteration region.

// CHECK: kiln.fusion({{.*}}) {rows = 1 : i64}
// CHECK: kiln.expm1
// CHECK: kiln.yield
// CHECK: %[[U:.*]]:3 = kiln.fusion({{.*}}) {rows = 64 : i64} : ({{.*}}) -> (tensor<64x32xf32>, tensor<64x32xf32>, tensor<64x32xf32>)
// CHECK: kiln.sqrt
// CHECK: kiln.yield
// CHECK-DAG: kiln.update_state "optimizer.exp_avg.w" %[[U]]#
// CHECK-DAG: kiln.update_state "optimizer.exp_avg_sq.w" %[[U]]#
// CHECK-DAG: kiln.update_param "w" %[[U]]#
module attributes {kiln.optimizer = {kind = "adamw", lr = 1.0e-03 : f64, weight_decay = 5.0e-02 : f64}} {
  func.func @objective() {
    %w = kiln.param "w" {init = {kind = "zeros"}} : tensor<64x32xf32>
    %g = kiln.input "g" : tensor<64x32xf32>
    %l = kiln.constant dense<0.0> : tensor<f32>
    kiln.loss %l : tensor<f32>
    kiln.gradient "w" %g : tensor<64x32xf32>
    return
  }
}
