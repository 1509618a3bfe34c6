// RUN: kiln-opt %s --kiln-lower-optimizer | FileCheck %s

// Parameter groups, first match wins: "*.bias" and "ndim<2" get no weight
// decay (DINO's get_params_groups); everything else decays with the
// scheduled "wd", including the 3-D pos_embed.

// CHECK: kiln.loss
// CHECK: kiln.mul %{{.*}}, %[[WD:.*]] : tensor<f32>, tensor<f32>
// CHECK: kiln.update_param "net.pos_embed"
// CHECK-NOT: %[[WD]]
// CHECK: kiln.update_param "net.head.bias"
// CHECK-NOT: %[[WD]]
// CHECK: kiln.update_param "net.norm.weight"
module attributes {kiln.optimizer = {kind = "adamw", lr = 1.0e-03 : f64, weight_decay = "wd",
    groups = [{match = "*.bias", weight_decay = 0 : i64}, {match = "ndim<2", weight_decay = 0 : i64}]}} {
  func.func @objective() {
    %wd = kiln.schedule "wd" {spec = {kind = "constant", value = 4.0e-02 : f64}} : tensor<f32>
    %p = kiln.param "net.pos_embed" {init = {kind = "zeros"}} : tensor<1x5x4xf32>
    %b = kiln.param "net.head.bias" {init = {kind = "zeros"}} : tensor<4xf32>
    %n = kiln.param "net.norm.weight" {init = {kind = "ones"}} : tensor<4xf32>
    %g3 = kiln.input "g3" : tensor<1x5x4xf32>
    %g1 = kiln.input "g1" : tensor<4xf32>
    %l = kiln.constant dense<0.0> : tensor<f32>
    kiln.loss %l : tensor<f32>
    kiln.gradient "net.pos_embed" %g3 : tensor<1x5x4xf32>
    kiln.gradient "net.head.bias" %g1 : tensor<4xf32>
    kiln.gradient "net.norm.weight" %g1 : tensor<4xf32>
    return
  }
}
