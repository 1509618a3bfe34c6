// RUN: kiln-opt %s --kiln-autodiff --kiln-recompute="mode=none" | FileCheck %s

// A module instance called with "checkpoint": true (kiln.checkpoint lists
// its path): its GEMM and GELU, whose results only the instance reads in
// forward, are recomputed before backward first needs them; its output,
// which the next layer reads, and its input stay saved.

// CHECK: %blk.h = kiln.matmul %x, %w1
// CHECK: %blk.a = kiln.gelu %blk.h
// CHECK: kiln.loss
// CHECK: %[[H:recompute.blk.h]] = kiln.matmul %x, %w1
// CHECK: %[[A:recompute.blk.a]] = kiln.gelu %[[H]]
// CHECK: kiln.mul {{.*}}%[[A]]
// CHECK-NOT: recompute.blk.out
module attributes {kiln.checkpoint = ["blk"]} {
  func.func @objective() {
    %x = kiln.input "x" : tensor<256x128xf32>
    %w1 = kiln.param "w1" {init = {kind = "zeros"}} : tensor<128x128xf32>
    %w2 = kiln.param "w2" {init = {kind = "zeros"}} : tensor<128x16xf32>
    %h = kiln.matmul %x, %w1 : tensor<256x128xf32>, tensor<128x128xf32> loc("blk.h")
    %a = kiln.gelu %h : tensor<256x128xf32> loc("blk.a")
    %o = kiln.mul %a, %a : tensor<256x128xf32>, tensor<256x128xf32> loc("blk.out")
    %y = kiln.matmul %o, %w2 : tensor<256x128xf32>, tensor<128x16xf32> loc("y")
    %l = kiln.sum %y {axes = array<i64: 0, 1>} : tensor<256x16xf32> loc("l")
    kiln.loss %l : tensor<f32>
    return
  }
}
