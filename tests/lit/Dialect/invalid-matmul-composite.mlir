// RUN: kiln-opt %s -split-input-file -verify-diagnostics
// Verifier errors of matmul and the composite ops.

func.func @rank(%a: tensor<8xf32>, %b: tensor<8x4xf32>) {
  // expected-error @+1 {{'kiln.matmul' op operands need rank >= 2, got lhs tensor<8xf32> and rhs tensor<8x4xf32>}}
  %0 = kiln.matmul %a, %b : tensor<8xf32>, tensor<8x4xf32>
  return
}

// -----

func.func @contraction(%a: tensor<2x64xf32>, %b: tensor<32x64xf32>) {
  // expected-error @+1 {{'kiln.matmul' op contracting dimension of lhs (64) does not match rhs (32): lhs tensor<2x64xf32>, rhs tensor<32x64xf32>}}
  %0 = kiln.matmul %a, %b : tensor<2x64xf32>, tensor<32x64xf32>
  return
}

// -----

func.func @batch(%a: tensor<3x2x8xf32>, %b: tensor<4x8x2xf32>) {
  // expected-error @+1 {{'kiln.matmul' op batch dimensions of lhs tensor<3x2x8xf32> and rhs tensor<4x8x2xf32> do not broadcast}}
  %0 = kiln.matmul %a, %b : tensor<3x2x8xf32>, tensor<4x8x2xf32>
  return
}

// -----

func.func @softmax_axis(%a: tensor<4x8xf32>) {
  // expected-error @+1 {{'kiln.softmax' op axis 2 is out of range for input tensor<4x8xf32>}}
  %0 = kiln.softmax %a {axis = 2 : i64} : tensor<4x8xf32>
  return
}

// -----

func.func @layer_norm_scale(%a: tensor<4x8xf32>, %g: tensor<4xf32>) {
  // expected-error @+1 {{'kiln.layer_norm' op 'scale' tensor<4xf32> must be tensor<8xf32> to match the last dimension of tensor<4x8xf32>}}
  %0 = kiln.layer_norm %a, %g, %g : tensor<4x8xf32>, tensor<4xf32>, tensor<4xf32>
  return
}

// -----

func.func @layer_norm_eps(%a: tensor<4x8xf32>, %g: tensor<8xf32>) {
  // expected-error @+1 {{'kiln.layer_norm' op eps must be positive}}
  %0 = kiln.layer_norm %a, %g, %g {eps = 0.0 : f64} : tensor<4x8xf32>, tensor<8xf32>, tensor<8xf32>
  return
}

// -----

func.func @l2_eps(%a: tensor<4x8xf32>) {
  // expected-error @+1 {{eps must be positive}}
  %0 = kiln.l2_normalize %a {axis = 1 : i64, eps = -1.0 : f64} : tensor<4x8xf32>
  return
}

// -----

func.func @one_hot_classes(%a: tensor<4xi32>) {
  // expected-error @+1 {{'kiln.one_hot' op num_classes must be positive, got 0}}
  %0 = kiln.one_hot %a {num_classes = 0 : i64} : tensor<4xi32>
  return
}

// -----

func.func @resize_size(%a: tensor<1x8x7x7xf32>) {
  // expected-error @+1 {{'kiln.resize_bilinear' op size [3] must be two positive sizes for the last two dimensions of input tensor<1x8x7x7xf32>}}
  %0 = kiln.resize_bilinear %a {size = array<i64: 3>} : tensor<1x8x7x7xf32>
  return
}
