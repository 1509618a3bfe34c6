// RUN: kiln-opt %s --mlir-print-op-generic | FileCheck %s
// The pooling ops infer their shapes as a convolution with one window per
// channel: Ho = (H + top + bottom - dilation·(KH - 1) - 1) / stride + 1;
// max_pool2d also gives its i32 indices, and the gradients the input's shape.

// CHECK-LABEL: sym_name = "shapes"
func.func @shapes(%x: tensor<2x3x9x10xf32>, %dy: tensor<2x3x5x5xf32>, %i: tensor<2x3x5x5xi32>) {
  // Ho = (9 + 2 - 2 - 1) / 2 + 1 = 5, Wo = (10 + 2 - 2 - 1) / 2 + 1 = 5
  // CHECK: "kiln.max_pool2d"{{.*}} -> (tensor<2x3x5x5xf32>, tensor<2x3x5x5xi32>)
  %y, %idx = kiln.max_pool2d %x {kernel_size = array<i64: 3, 3>, strides = array<i64: 2, 2>, padding = array<i64: 1>} : tensor<2x3x9x10xf32>
  // CHECK: "kiln.max_pool2d_grad"{{.*}} -> tensor<2x3x9x10xf32>
  %dx = kiln.max_pool2d_grad %dy, %i {input_size = array<i64: 9, 10>, kernel_size = array<i64: 3, 3>, strides = array<i64: 2, 2>, padding = array<i64: 1>} : tensor<2x3x5x5xf32>, tensor<2x3x5x5xi32>
  // CHECK: "kiln.avg_pool2d"{{.*}} -> tensor<2x3x4x5xf32>
  %a = kiln.avg_pool2d %x {kernel_size = array<i64: 2, 2>, strides = array<i64: 2, 2>, count_include_pad = false} : tensor<2x3x9x10xf32>
  // CHECK: "kiln.avg_pool2d_grad"{{.*}} -> tensor<2x3x9x10xf32>
  %da = kiln.avg_pool2d_grad %dy {input_size = array<i64: 9, 10>, kernel_size = array<i64: 3, 3>, strides = array<i64: 2, 2>, padding = array<i64: 1>} : tensor<2x3x5x5xf32>
  return
}

// batch_norm keeps its input's type and gives the two running statistics.
// CHECK-LABEL: sym_name = "batch_norm"
func.func @batch_norm(%x: tensor<4x3x5x5xf32>, %c: tensor<3xf32>) {
  // CHECK: "kiln.batch_norm"{{.*}} -> (tensor<4x3x5x5xf32>, tensor<3xf32>, tensor<3xf32>)
  %y, %m, %v = kiln.batch_norm %x, %c, %c, %c, %c {sync = true} : tensor<4x3x5x5xf32>, tensor<3xf32>, tensor<3xf32>, tensor<3xf32>, tensor<3xf32>
  return
}
