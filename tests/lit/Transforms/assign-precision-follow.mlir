// RUN: kiln-opt %s --kiln-assign-precision=precision=bf16 | FileCheck %s

// Arithmetic on bf16 values stays bf16 (GELU of a GEMM, a constant scale
// that adapts as a Python scalar does); mixing bf16 with an f32 tensor
// runs in f32; exp always does.

// CHECK: %[[Y:.*]] = kiln.matmul {{.*}} : tensor<8x16xbf16>, tensor<16x4xbf16>
// CHECK: %[[G:.*]] = kiln.gelu %[[Y]] {{.*}}: tensor<8x4xbf16>
// CHECK: %[[CL:.*]] = kiln.cast %{{.*}} : tensor<f32> to tensor<bf16>
// CHECK: %[[S:.*]] = kiln.mul %[[G]], %[[CL]] : tensor<8x4xbf16>, tensor<bf16>
// CHECK: %[[SF:.*]] = kiln.cast %[[S]] : tensor<8x4xbf16> to tensor<8x4xf32>
// CHECK: %[[B:.*]] = kiln.add %[[SF]], %{{.*}} : tensor<8x4xf32>, tensor<4xf32>
// CHECK: kiln.exp %[[B]] : tensor<8x4xf32>
module {
  func.func @objective() {
    %x = kiln.input "x" : tensor<8x16xf32>
    %w = kiln.param "w" {init = {kind = "zeros"}} : tensor<16x4xf32>
    %bias = kiln.param "b" {init = {kind = "zeros"}} : tensor<4xf32>
    %half = kiln.constant dense<0.5> : tensor<f32>
    %y = kiln.matmul %x, %w : tensor<8x16xf32>, tensor<16x4xf32>
    %g = kiln.gelu %y : tensor<8x4xf32>
    %s = kiln.mul %g, %half : tensor<8x4xf32>, tensor<f32>
    %b = kiln.add %s, %bias : tensor<8x4xf32>, tensor<4xf32>
    %e = kiln.exp %b : tensor<8x4xf32>
    %l = kiln.sum %e {axes = array<i64: 0, 1>} : tensor<8x4xf32>
    kiln.loss %l : tensor<f32>
    return
  }
}
