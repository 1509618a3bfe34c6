// RUN: not kiln-opt %s --kiln-shard-optimizer 2>&1 | FileCheck %s

// An update that reduces the averaged gradient along one axis (a row sum)
// mixes elements that different ranks hold: --shard-optimizer refuses it,
// naming the op, rather than summing chunks that are not rows.

// CHECK: error: 'kiln.sum' reads the averaged gradients but is neither elementwise nor a whole-tensor sum: --shard-optimizer cannot split it over the ranks
module attributes {kiln.ranks = 2 : i64} {
  func.func @objective() {
    %w = kiln.param "w" {init = {kind = "zeros"}} : tensor<3x4xf32>
    %x = kiln.input "x" : tensor<3x4xf32>
    %l = kiln.constant dense<0.0> : tensor<f32>
    kiln.loss %l : tensor<f32>
    %r = kiln.all_reduce %x {bucket = 0 : i64, bytes = 48 : i64, gradients} : tensor<3x4xf32>
    %rows = kiln.sum %r {axes = array<i64: 1>, keepdim = true} : tensor<3x4xf32>
    %n = kiln.sub %r, %rows : tensor<3x4xf32>, tensor<3x1xf32>
    kiln.update_param "w" %n : tensor<3x4xf32>
    return
  }
}
