// RUN: kiln-opt %s --kiln-assign-precision=precision=bf16 | FileCheck %s

// A GEMM takes bf16 operands and gives a bf16 result; softmax, a row op,
// takes f32, so the result is widened before it.

// CHECK: %[[XL:.*]] = kiln.cast %{{.*}} : tensor<8x16xf32> to tensor<8x16xbf16>
// CHECK: %[[WL:.*]] = kiln.cast %{{.*}} : tensor<4x16xf32> to tensor<4x16xbf16>
// CHECK: %[[Y:.*]] = kiln.matmul %[[XL]], %[[WL]] {transpose_rhs = true} : tensor<8x16xbf16>, tensor<4x16xbf16>
// CHECK: %[[YF:.*]] = kiln.cast %[[Y]] : tensor<8x4xbf16> to tensor<8x4xf32>
// CHECK: kiln.softmax %[[YF]] {axis = 1 : i64} : tensor<8x4xf32>
module {
  func.func @objective() {
    %x = kiln.input "x" : tensor<8x16xf32>
    %w = kiln.param "w" {init = {kind = "zeros"}} : tensor<4x16xf32>
    %y = kiln.matmul %x, %w {transpose_rhs = true} : tensor<8x16xf32>, tensor<4x16xf32>
    %s = kiln.softmax %y {axis = 1 : i64} : tensor<8x4xf32>
    %l = kiln.sum %s {axes = array<i64: 0, 1>} : tensor<8x4xf32>
    kiln.loss %l : tensor<f32>
    return
  }
}
