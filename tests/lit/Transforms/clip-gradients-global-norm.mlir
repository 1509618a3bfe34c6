// RUN: kiln-opt %s --kiln-clip-gradients | FileCheck %s

// clip_grad_norm_: one norm over all gradients, every gradient times
// min(1, max/(n + 1e-6)).

// CHECK-DAG: %[[G:.*]] = kiln.input "g"
// CHECK-DAG: %[[H:.*]] = kiln.input "h"
// CHECK: kiln.loss
// CHECK: %[[TOTAL:.*]] = kiln.add %{{.*}}, %{{.*}} : tensor<f32>, tensor<f32>
// CHECK: %[[N:.*]] = kiln.sqrt %[[TOTAL]]
// CHECK: %[[C:.*]] = kiln.min %{{.*}}, %{{.*}} : tensor<f32>, tensor<f32>
// CHECK: %[[CG:.*]] = kiln.mul %[[G]], %[[C]]
// CHECK: kiln.gradient "w" %[[CG]]
// CHECK: %[[CH:.*]] = kiln.mul %[[H]], %[[C]]
// CHECK: kiln.gradient "b" %[[CH]]
module attributes {kiln.optimizer = {kind = "sgd", lr = 1.0e-01 : f64, clip = {kind = "global_norm", max_norm = 1.0 : f64}}} {
  func.func @objective() {
    %w = kiln.param "w" {init = {kind = "zeros"}} : tensor<2x3xf32>
    %b = kiln.param "b" {init = {kind = "zeros"}} : tensor<3xf32>
    %g = kiln.input "g" : tensor<2x3xf32>
    %h = kiln.input "h" : tensor<3xf32>
    %l = kiln.constant dense<0.0> : tensor<f32>
    kiln.loss %l : tensor<f32>
    kiln.gradient "w" %g : tensor<2x3xf32>
    kiln.gradient "b" %h : tensor<3xf32>
    return
  }
}
