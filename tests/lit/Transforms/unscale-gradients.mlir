// RUN: kiln-opt %s --kiln-unscale-gradients | FileCheck %s

// Each gradient times 1/scale; Σ g·0 over all of them is NaN exactly when
// one is inf or NaN; the gradients apply only when it is not, and the
// scale and growth count change as GradScaler.update() does (growth every
// 2000 clean steps by default).

// CHECK-DAG: %[[S:.*]] = kiln.state "fp16_scaler.scale"
// CHECK-DAG: %[[T:.*]] = kiln.state "fp16_scaler.growth_tracker" {init = {kind = "zeros"}}
// CHECK-DAG: %[[G:.*]] = kiln.input "g"
// CHECK-DAG: %[[H:.*]] = kiln.input "h"
// CHECK: %[[INV:.*]] = kiln.div %{{.*}}, %[[S]]
// CHECK: %[[UG:.*]] = kiln.mul %[[G]], %[[INV]]
// CHECK: %[[UH:.*]] = kiln.mul %[[H]], %[[INV]]
// CHECK: %[[P:.*]] = kiln.add
// CHECK: %[[FINITE:.*]] = kiln.compare "eq", %[[P]], %[[P]]
// CHECK: kiln.gradient "w" %[[UG]] if %[[FINITE]] : tensor<2x3xf32>
// CHECK: kiln.gradient "b" %[[UH]] if %[[FINITE]] : tensor<3xf32>
// CHECK: %[[DUE:.*]] = kiln.compare "ge"
// CHECK: kiln.update_state "fp16_scaler.scale"
// CHECK: kiln.update_state "fp16_scaler.growth_tracker"
module attributes {kiln.train = {precision = "fp16"}} {
  func.func @objective() {
    %w = kiln.param "w" {init = {kind = "zeros"}} : tensor<2x3xf32>
    %b = kiln.param "b" {init = {kind = "zeros"}} : tensor<3xf32>
    %s = kiln.state "fp16_scaler.scale" {init = {kind = "constant", value = 6.5536e+04 : f64}} : tensor<f32>
    %g = kiln.input "g" : tensor<2x3xf32>
    %h = kiln.input "h" : tensor<3xf32>
    %l = kiln.constant dense<0.0> : tensor<f32>
    kiln.loss %l scaled_by %s : tensor<f32>
    kiln.gradient "w" %g : tensor<2x3xf32>
    kiln.gradient "b" %h : tensor<3xf32>
    return
  }
}
