// RUN: kiln-opt %s --kiln-assign-precision=precision=bf16 | FileCheck %s

// A GEMM operand that is a view (the GELU's output reshaped to rows) is
// cast before the view, not after it: the same values, but the cast can
// then fuse into the region making the GELU's output, which writes bf16
// only. The f32 view goes; the exp that needs f32 keeps the f32 value.

// CHECK: %[[G:.*]] = kiln.exp %{{.*}} : tensor<2x3x8xf32>
// CHECK: %[[GL:.*]] = kiln.cast %[[G]] : tensor<2x3x8xf32> to tensor<2x3x8xbf16>
// CHECK-NEXT: %[[V:.*]] = kiln.reshape %[[GL]] : tensor<2x3x8xbf16> to tensor<6x8xbf16>
// CHECK: kiln.matmul %[[V]], %{{.*}} {transpose_rhs = true} : tensor<6x8xbf16>, tensor<4x8xbf16>
// CHECK-NOT: tensor<6x8xf32>
module {
  func.func @objective() {
    %x = kiln.input "x" : tensor<2x3x8xf32>
    %w = kiln.param "w" {init = {kind = "zeros"}} : tensor<4x8xf32>
    %g = kiln.exp %x : tensor<2x3x8xf32>
    %rows = kiln.reshape %g : tensor<2x3x8xf32> to tensor<6x8xf32>
    %y = kiln.matmul %rows, %w {transpose_rhs = true} : tensor<6x8xf32>, tensor<4x8xf32>
    %l = kiln.sum %y {axes = array<i64: 0, 1>} : tensor<6x4xf32>
    kiln.loss %l : tensor<f32>
    return
  }
}
