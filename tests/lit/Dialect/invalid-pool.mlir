// RUN: kiln-opt %s -split-input-file -verify-diagnostics
// Verifier errors of the pooling and batch-norm ops name the shapes.

func.func @padding(%x: tensor<2x3x9x9xf32>) {
  // expected-error @+1 {{'kiln.max_pool2d' op padding [2] exceeds half the window (3x3): a window could hold padding only (input [2, 3, 9, 9], window [3, 3])}}
  %y, %i = kiln.max_pool2d %x {kernel_size = array<i64: 3, 3>, strides = array<i64: 1, 1>, padding = array<i64: 2>} : tensor<2x3x9x9xf32>
  return
}

// -----

func.func @kernel(%x: tensor<2x3x9x9xf32>) {
  // expected-error @+1 {{'kiln.avg_pool2d' op kernel_size [3] needs two positive entries (height, width)}}
  %y = kiln.avg_pool2d %x {kernel_size = array<i64: 3>, strides = array<i64: 1, 1>} : tensor<2x3x9x9xf32>
  return
}

// -----

func.func @larger(%x: tensor<2x3x4x4xf32>) {
  // expected-error @+1 {{'kiln.avg_pool2d' op the dilated kernel (5x5) is larger than the padded input (4x4) (input [2, 3, 4, 4], window [5, 5])}}
  %y = kiln.avg_pool2d %x {kernel_size = array<i64: 5, 5>, strides = array<i64: 1, 1>} : tensor<2x3x4x4xf32>
  return
}

// -----

func.func @indices(%dy: tensor<2x3x4x4xf32>, %i: tensor<2x3x4x3xi32>) {
  // expected-error @+1 {{'kiln.max_pool2d_grad' op 'indices' is [2, 3, 4, 3], the convolution's is [2, 3, 4, 4]}}
  %dx = kiln.max_pool2d_grad %dy, %i {input_size = array<i64: 8, 8>, kernel_size = array<i64: 2, 2>, strides = array<i64: 2, 2>} : tensor<2x3x4x4xf32>, tensor<2x3x4x3xi32>
  return
}

// -----

func.func @channels(%x: tensor<4x3x5x5xf32>, %c: tensor<3xf32>, %d: tensor<4xf32>) {
  // expected-error @+1 {{'kiln.batch_norm' op 'running_var' tensor<4xf32> must be tensor<3xf32>, one per channel (dimension 1) of tensor<4x3x5x5xf32>}}
  %y, %m, %v = kiln.batch_norm %x, %c, %c, %c, %d : tensor<4x3x5x5xf32>, tensor<3xf32>, tensor<3xf32>, tensor<3xf32>, tensor<4xf32>
  return
}

// -----

func.func @single(%x: tensor<1x3xf32>, %c: tensor<3xf32>) {
  // expected-error @+1 {{'kiln.batch_norm' op in training needs more than one value per channel to take a variance, got tensor<1x3xf32> (a batch of one without spatial dimensions)}}
  %y, %m, %v = kiln.batch_norm %x, %c, %c, %c, %c : tensor<1x3xf32>, tensor<3xf32>, tensor<3xf32>, tensor<3xf32>, tensor<3xf32>
  return
}
