// RUN: kiln-opt %s --kiln-autodiff --canonicalize --cse | FileCheck %s

// A convolution's input gradient is the transposed convolution of the
// result's gradient with the same geometry, told the input's size (a
// stride of 2 over 9 rows leaves it ambiguous); its weight gradient
// correlates the input with the result's gradient, told the kernel's size.
// Only the trained inputs get one: here the weight, and the input because
// a parameter feeds it.

// CHECK-LABEL: func.func @objective
// CHECK: %[[X:[0-9a-z_]+]] = kiln.mul %{{.*}}, %{{.*}} : tensor<2x3x9x9xf32>
// CHECK: kiln.loss
// CHECK-DAG: %[[DW:[0-9a-z_]+]] = kiln.conv2d_weight_grad %[[X]], %{{[0-9a-z_]+}} {{\{.*}}kernel_size = array<i64: 3, 3>, padding = array<i64: 1>, strides = array<i64: 2, 2>} : tensor<2x3x9x9xf32>, tensor<2x4x5x5xf32>
// CHECK-DAG: kiln.gradient "w" %[[DW]] : tensor<4x3x3x3xf32>
// CHECK-DAG: kiln.conv2d_input_grad %{{[0-9a-z_]+}}, %{{[0-9a-z_]+}} {{\{.*}}input_size = array<i64: 9, 9>, padding = array<i64: 1>, strides = array<i64: 2, 2>} : tensor<2x4x5x5xf32>, tensor<4x3x3x3xf32>
func.func @objective() {
  %s = kiln.param "s" {init = {kind = "ones"}} : tensor<3x1x1xf32>
  %w = kiln.param "w" {init = {kind = "ones"}} : tensor<4x3x3x3xf32>
  %in = kiln.input "x" : tensor<2x3x9x9xf32>
  %x = kiln.mul %in, %s : tensor<2x3x9x9xf32>, tensor<3x1x1xf32>
  %y = kiln.conv2d %x, %w {padding = array<i64: 1>, strides = array<i64: 2, 2>} : tensor<2x3x9x9xf32>, tensor<4x3x3x3xf32>
  %l = kiln.sum %y {axes = array<i64: 0, 1, 2, 3>} : tensor<2x4x5x5xf32>
  kiln.loss %l : tensor<f32>
  return
}
