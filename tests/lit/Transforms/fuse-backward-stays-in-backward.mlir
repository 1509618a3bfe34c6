// RUN: kiln-opt %s --kiln-autodiff --kiln-fuse | FileCheck %s

// GELU's derivative reads only the forward's pre-activation, so it could
// join the forward region that computes it; it does not: run there, its
// result would live from forward until backward reads it. The region for
// the derivative follows the loss.

// CHECK: kiln.fusion
// CHECK: kiln.gelu
// CHECK-NOT: kiln.erf
// CHECK: kiln.loss
// CHECK: kiln.fusion
// CHECK: kiln.erf
func.func @objective() {
  %x = kiln.input "x" : tensor<256x128xf32>
  %w1 = kiln.param "w1" {init = {kind = "zeros"}} : tensor<128x128xf32>
  %b1 = kiln.param "b1" {init = {kind = "zeros"}} : tensor<128xf32>
  %w2 = kiln.param "w2" {init = {kind = "zeros"}} : tensor<128x16xf32>
  %h = kiln.matmul %x, %w1 : tensor<256x128xf32>, tensor<128x128xf32> loc("h")
  %hb = kiln.add %h, %b1 : tensor<256x128xf32>, tensor<128xf32> loc("hb")
  %a = kiln.gelu %hb : tensor<256x128xf32> loc("a")
  %y = kiln.matmul %a, %w2 : tensor<256x128xf32>, tensor<128x16xf32> loc("y")
  %l = kiln.sum %y {axes = array<i64: 0, 1>} : tensor<256x16xf32> loc("l")
  kiln.loss %l : tensor<f32>
  return
}
