// RUN: kiln-opt %s --kiln-assign-precision=precision=bf16 | FileCheck %s

// Convolutions are low as GEMMs are, forward and both gradients: bf16
// operands, a bf16 result, widened where an f32 op (the sum) reads it.

// CHECK: %[[XL:.*]] = kiln.cast %{{.*}} : tensor<2x3x9x9xf32> to tensor<2x3x9x9xbf16>
// CHECK: %[[WL:.*]] = kiln.cast %{{.*}} : tensor<4x3x3x3xf32> to tensor<4x3x3x3xbf16>
// CHECK: %[[Y:.*]] = kiln.conv2d %[[XL]], %[[WL]] {{.*}} : tensor<2x3x9x9xbf16>, tensor<4x3x3x3xbf16>
// CHECK: kiln.conv2d_input_grad {{.*}} : tensor<2x4x5x5xbf16>, tensor<4x3x3x3xbf16>
// CHECK: kiln.conv2d_weight_grad {{.*}} : tensor<2x3x9x9xbf16>, tensor<2x4x5x5xbf16>
// CHECK: kiln.cast %[[Y]] : tensor<2x4x5x5xbf16> to tensor<2x4x5x5xf32>
module {
  func.func @objective() {
    %w = kiln.param "w" {init = {kind = "ones"}} : tensor<4x3x3x3xf32>
    %x = kiln.input "x" : tensor<2x3x9x9xf32>
    %dy = kiln.input "dy" : tensor<2x4x5x5xf32>
    %y = kiln.conv2d %x, %w {padding = array<i64: 1>, strides = array<i64: 2, 2>} : tensor<2x3x9x9xf32>, tensor<4x3x3x3xf32>
    %dx = kiln.conv2d_input_grad %dy, %w {input_size = array<i64: 9, 9>, padding = array<i64: 1>, strides = array<i64: 2, 2>} : tensor<2x4x5x5xf32>, tensor<4x3x3x3xf32>
    %dw = kiln.conv2d_weight_grad %x, %dy {kernel_size = array<i64: 3, 3>, padding = array<i64: 1>, strides = array<i64: 2, 2>} : tensor<2x3x9x9xf32>, tensor<2x4x5x5xf32>
    %l = kiln.sum %y {axes = array<i64: 0, 1, 2, 3>} : tensor<2x4x5x5xf32>
    kiln.loss %l : tensor<f32>
    kiln.output "dx" %dx : tensor<2x3x9x9xf32>
    kiln.output "dw" %dw : tensor<4x3x3x3xf32>
    return
  }
}
