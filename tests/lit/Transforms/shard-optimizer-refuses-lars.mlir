// RUN: not kiln-opt %s --kiln-lower-optimizer --kiln-shard-optimizer 2>&1 | FileCheck %s

// LARS's trust ratio needs each parameter's whole norm: a sum over the
// chunks would need its own all-reduce, which --shard-optimizer does not
// insert yet. The error names the op that reads the gradients.

// CHECK: error: 'kiln.sum' reads the averaged gradients but is not elementwise: --shard-optimizer takes SGD and AdamW without clipping or fp16 loss scaling
module attributes {kiln.ranks = 2 : i64, kiln.optimizer = {kind = "lars", lr = 1.0e-01 : f64, weight_decay = 1.0e-06 : f64, momentum = 9.0e-01 : f64}} {
  func.func @objective() {
    %w = kiln.param "w" {init = {kind = "zeros"}} : tensor<3x4xf32>
    %x = kiln.input "x" : tensor<3x4xf32>
    %l = kiln.constant dense<0.0> : tensor<f32>
    kiln.loss %l : tensor<f32>
    %r = kiln.all_reduce %x {bucket = 0 : i64, bytes = 48 : i64, gradients} : tensor<3x4xf32>
    kiln.gradient "w" %r : tensor<3x4xf32>
    return
  }
}
