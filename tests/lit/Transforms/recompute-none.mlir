// RUN: kiln-opt %s --kiln-autodiff --kiln-recompute="mode=none" | FileCheck %s

// Mode none (train.recompute or --recompute): backward reads the forward's
// GELU output, as autodiff wrote it.

// CHECK: kiln.loss
// CHECK-NOT: recompute
// CHECK: kiln.matmul %a, %{{.*}} {transpose_lhs = true}
// CHECK-NOT: recompute
func.func @objective() {
  %x = kiln.input "x" : tensor<256x128xf32>
  %w1 = kiln.param "w1" {init = {kind = "zeros"}} : tensor<128x128xf32>
  %w2 = kiln.param "w2" {init = {kind = "zeros"}} : tensor<128x16xf32>
  %h = kiln.matmul %x, %w1 : tensor<256x128xf32>, tensor<128x128xf32> loc("h")
  %a = kiln.gelu %h : tensor<256x128xf32> loc("a")
  %y = kiln.matmul %a, %w2 : tensor<256x128xf32>, tensor<128x16xf32> loc("y")
  %l = kiln.sum %y {axes = array<i64: 0, 1>} : tensor<256x16xf32> loc("l")
  kiln.loss %l : tensor<f32>
  return
}
