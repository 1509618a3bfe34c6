// RUN: kiln-opt %s --mlir-print-op-generic | FileCheck %s
// The convolution ops infer their result shapes: Ho = (H + top + bottom -
// dilation·(KH - 1) - 1) / stride + 1, and the gradient ops give back the
// input's and the weight's shapes.

// CHECK-LABEL: sym_name = "shapes"
func.func @shapes(%x: tensor<2x4x9x10xf32>, %w: tensor<6x2x3x3xf32>, %dy: tensor<2x6x4x3xf32>) {
  // Ho = (9 + 1 + 2 - 2·2 - 1) / 2 + 1 = 4, Wo = (10 + 0 + 1 - 1·2 - 1) / 3 + 1 = 3
  // CHECK: "kiln.conv2d"{{.*}} -> tensor<2x6x4x3xf32>
  %y = kiln.conv2d %x, %w {strides = array<i64: 2, 3>, padding = array<i64: 1, 0, 2, 1>, dilation = array<i64: 2, 1>, groups = 2 : i64} : tensor<2x4x9x10xf32>, tensor<6x2x3x3xf32>
  // CHECK: "kiln.conv2d_input_grad"{{.*}} -> tensor<2x4x9x10xf32>
  %dx = kiln.conv2d_input_grad %dy, %w {input_size = array<i64: 9, 10>, strides = array<i64: 2, 3>, padding = array<i64: 1, 0, 2, 1>, dilation = array<i64: 2, 1>, groups = 2 : i64} : tensor<2x6x4x3xf32>, tensor<6x2x3x3xf32>
  // CHECK: "kiln.conv2d_weight_grad"{{.*}} -> tensor<6x2x3x3xf32>
  %dw = kiln.conv2d_weight_grad %x, %dy {kernel_size = array<i64: 3, 3>, strides = array<i64: 2, 3>, padding = array<i64: 1, 0, 2, 1>, dilation = array<i64: 2, 1>, groups = 2 : i64} : tensor<2x4x9x10xf32>, tensor<2x6x4x3xf32>
  return
}

// One padding value pads every side; defaults are stride 1, no padding,
// no dilation, one group.
// CHECK-LABEL: sym_name = "defaults"
func.func @defaults(%x: tensor<1x3x5x5xf32>, %w: tensor<8x3x3x3xf32>) {
  // CHECK: -> tensor<1x8x3x3xf32>
  %a = kiln.conv2d %x, %w : tensor<1x3x5x5xf32>, tensor<8x3x3x3xf32>
  // CHECK: -> tensor<1x8x5x5xf32>
  %b = kiln.conv2d %x, %w {padding = array<i64: 1>} : tensor<1x3x5x5xf32>, tensor<8x3x3x3xf32>
  return
}
