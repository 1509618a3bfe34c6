// RUN: kiln-opt %s --kiln-autodiff --kiln-recompute="mode=auto" | FileCheck %s

// GELU's output is read again by the second GEMM's weight gradient in
// backward; its input stays alive until GELU's derivative anyway, so
// backward gets a recomputed copy and the forward value dies at the
// forward GEMM.

// CHECK: %a = kiln.gelu %h
// CHECK-NEXT: %y = kiln.matmul %a, %w2
// CHECK: kiln.loss
// CHECK-NOT: kiln.matmul %a,
// CHECK: %[[A:recompute.a]] = kiln.gelu %h
// CHECK-NEXT: kiln.matmul %[[A]], %{{.*}} {transpose_lhs = true}
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
