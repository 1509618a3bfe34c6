// RUN: kiln-opt %s --kiln-scale-loss | FileCheck %s
// RUN: kiln-opt %s --kiln-scale-loss=precision=f32 | FileCheck %s

// bf16 keeps f32's exponent range: no scale, backward starts from 1.

// CHECK-NOT: fp16_scaler
// CHECK-NOT: scaled_by
module attributes {kiln.train = {precision = "bf16"}} {
  func.func @objective() {
    %w = kiln.param "w" {init = {kind = "zeros"}} : tensor<3xf32>
    %l = kiln.sum %w {axes = array<i64: 0>} : tensor<3xf32>
    kiln.loss %l : tensor<f32>
    return
  }
}
