// RUN: kiln-opt %s -split-input-file -verify-diagnostics
// Verifier errors of the convolution ops name the shapes.

func.func @rank(%x: tensor<4x9x9xf32>, %w: tensor<8x4x3x3xf32>) {
  // expected-error @+1 {{'kiln.conv2d' op needs an [N, C, H, W] input and an [O, C/groups, KH, KW] weight (input [4, 9, 9], weight [8, 4, 3, 3])}}
  %0 = kiln.conv2d %x, %w : tensor<4x9x9xf32>, tensor<8x4x3x3xf32>
  return
}

// -----

func.func @channels(%x: tensor<2x4x9x9xf32>, %w: tensor<8x3x3x3xf32>) {
  // expected-error @+1 {{'kiln.conv2d' op the weight's second dimension must be the input's channels / groups = 4 (input [2, 4, 9, 9], weight [8, 3, 3, 3])}}
  %0 = kiln.conv2d %x, %w : tensor<2x4x9x9xf32>, tensor<8x3x3x3xf32>
  return
}

// -----

func.func @groups(%x: tensor<2x4x9x9xf32>, %w: tensor<6x2x3x3xf32>) {
  // expected-error @+1 {{'kiln.conv2d' op groups 4 must divide the input's 4 and the weight's 6 channels}}
  %0 = kiln.conv2d %x, %w {groups = 4 : i64} : tensor<2x4x9x9xf32>, tensor<6x2x3x3xf32>
  return
}

// -----

func.func @too_small(%x: tensor<2x4x3x3xf32>, %w: tensor<8x4x3x3xf32>) {
  // expected-error @+1 {{'kiln.conv2d' op the dilated kernel (5x5) is larger than the padded input (3x3)}}
  %0 = kiln.conv2d %x, %w {dilation = array<i64: 2, 2>} : tensor<2x4x3x3xf32>, tensor<8x4x3x3xf32>
  return
}

// -----

func.func @padding(%x: tensor<2x4x9x9xf32>, %w: tensor<8x4x3x3xf32>) {
  // expected-error @+1 {{'kiln.conv2d' op padding [1, 1, 1] needs non-negative entries: one, [height, width] or [top, left, bottom, right]}}
  %0 = kiln.conv2d %x, %w {padding = array<i64: 1, 1, 1>} : tensor<2x4x9x9xf32>, tensor<8x4x3x3xf32>
  return
}

// -----

func.func @input_grad(%dy: tensor<2x8x4x4xf32>, %w: tensor<8x4x3x3xf32>) {
  // expected-error @+1 {{'kiln.conv2d_input_grad' op the result's gradient is [2, 8, 4, 4], the convolution's is [2, 8, 7, 7]}}
  %0 = kiln.conv2d_input_grad %dy, %w {input_size = array<i64: 9, 9>} : tensor<2x8x4x4xf32>, tensor<8x4x3x3xf32>
  return
}
