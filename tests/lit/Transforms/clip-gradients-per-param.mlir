// RUN: kiln-opt %s --kiln-clip-gradients | FileCheck %s

// DINO's clip_gradients: each gradient on its own, c = 3/(‖g‖ + 1e-6),
// scaled only where c < 1.

// CHECK-DAG: %[[G:.*]] = kiln.input "g"
// CHECK: %[[SQ:.*]] = kiln.mul %[[G]], %[[G]]
// CHECK: %[[SS:.*]] = kiln.sum %[[SQ]] {axes = array<i64: 0, 1>} : tensor<2x3xf32>
// CHECK: %[[N:.*]] = kiln.sqrt %[[SS]]
// CHECK: %[[C:.*]] = kiln.div %{{.*}}, %{{.*}} : tensor<f32>, tensor<f32>
// CHECK-DAG: %[[SMALL:.*]] = kiln.compare "lt", %[[C]], %{{.*}}
// CHECK-DAG: %[[SCALED:.*]] = kiln.mul %[[G]], %[[C]]
// CHECK: %[[CLIPPED:.*]] = kiln.select %[[SMALL]], %[[SCALED]], %[[G]]
// CHECK: kiln.gradient "w" %[[CLIPPED]]
// CHECK: kiln.sqrt
// CHECK: kiln.gradient "b"
module attributes {kiln.optimizer = {kind = "sgd", lr = 1.0e-01 : f64, clip = {kind = "per_param", max_norm = 3.0 : f64}}} {
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
