// RUN: kiln-opt %s --kiln-lower-optimizer --verify-diagnostics

// A freeze entry that matches no trained parameter (here the name the DINO
// head's last layer had before it became last_layer.weight_v) is an error
// naming the entry and a parameter it may have meant, not a silent no-op.

// expected-error @+1 {{/optimizer/freeze/0: 'student.head.last_layer' matches no trained parameter (they are named like 'student.head.last_layer.weight_v')}}
module attributes {kiln.optimizer = {kind = "sgd", lr = 1.0e-01 : f64, freeze = [{match = "student.head.last_layer", epochs = 1 : i64}]}} {
  func.func @objective() {
    %w = kiln.param "student.backbone.weight" {init = {kind = "zeros"}} : tensor<4x4xf32>
    %v = kiln.param "student.head.last_layer.weight_v" {init = {kind = "zeros"}} : tensor<8x4xf32>
    %gw = kiln.input "gw" : tensor<4x4xf32>
    %gv = kiln.input "gv" : tensor<8x4xf32>
    %l = kiln.constant dense<0.0> : tensor<f32>
    kiln.loss %l : tensor<f32>
    kiln.gradient "student.backbone.weight" %gw : tensor<4x4xf32>
    kiln.gradient "student.head.last_layer.weight_v" %gv : tensor<8x4xf32>
    return
  }
}
