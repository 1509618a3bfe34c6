// RUN: kiln-opt %s --kiln-autodiff --kiln-recompute="mode=auto" | FileCheck %s

// exp's derivative reads exp's own output, not its input: recomputing the
// output in backward would keep the input (as large) alive from forward
// instead, so auto keeps the output.

// CHECK: %e = kiln.exp %h
// CHECK: kiln.loss
// CHECK-NOT: kiln.exp %h
// CHECK: kiln.mul {{.*}}%e
func.func @objective() {
  %x = kiln.input "x" : tensor<256x128xf32>
  %w1 = kiln.param "w1" {init = {kind = "zeros"}} : tensor<128x128xf32>
  %w2 = kiln.param "w2" {init = {kind = "zeros"}} : tensor<128x16xf32>
  %h = kiln.matmul %x, %w1 : tensor<256x128xf32>, tensor<128x128xf32> loc("h")
  %e = kiln.exp %h : tensor<256x128xf32> loc("e")
  %y = kiln.matmul %e, %w2 : tensor<256x128xf32>, tensor<128x16xf32> loc("y")
  %l = kiln.sum %y {axes = array<i64: 0, 1>} : tensor<256x16xf32> loc("l")
  kiln.loss %l : tensor<f32>
  return
}
