// RUN: kiln-opt %s -split-input-file -verify-diagnostics
// Verifier errors of reductions and shape ops.

func.func @axis_range(%a: tensor<4x8xf32>) {
  // expected-error @+1 {{'kiln.sum' op axis 2 is out of range for input tensor<4x8xf32>}}
  %0 = kiln.sum %a {axes = array<i64: 2>} : tensor<4x8xf32>
  return
}

// -----

func.func @axes_order(%a: tensor<4x8xf32>) {
  // expected-error @+1 {{'kiln.mean' op axes must be strictly increasing, got 0 after 1}}
  %0 = kiln.mean %a {axes = array<i64: 1, 0>} : tensor<4x8xf32>
  return
}

// -----

func.func @argmax_axis(%a: tensor<4x8xf32>) {
  // expected-error @+1 {{'kiln.argmax' op axis -1 is out of range for input tensor<4x8xf32>}}
  %0 = kiln.argmax %a {axis = -1 : i64} : tensor<4x8xf32>
  return
}

// -----

func.func @reshape_count(%a: tensor<4x8xf32>) {
  // expected-error @+1 {{cannot reshape tensor<4x8xf32> (32 elements) to tensor<4x9xf32> (36 elements)}}
  %0 = kiln.reshape %a : tensor<4x8xf32> to tensor<4x9xf32>
  return
}

// -----

func.func @reshape_type(%a: tensor<4xi32>) {
  // expected-error @+1 {{reshape keeps the element type: tensor<4xi32> to tensor<2x2xf32>}}
  %0 = kiln.reshape %a : tensor<4xi32> to tensor<2x2xf32>
  return
}

// -----

func.func @perm(%a: tensor<4x8xf32>) {
  // expected-error @+1 {{'kiln.transpose' op perm [0, 0] is not a permutation of the 2 dimensions of input tensor<4x8xf32>}}
  %0 = kiln.transpose %a {perm = array<i64: 0, 0>} : tensor<4x8xf32>
  return
}

// -----

func.func @broadcast_to(%a: tensor<3x1xf32>) {
  // expected-error @+1 {{'kiln.broadcast' op input tensor<3x1xf32> does not broadcast to shape [4, 5]}}
  %0 = kiln.broadcast %a {shape = array<i64: 4, 5>} : tensor<3x1xf32>
  return
}

// -----

func.func @slice_rank(%a: tensor<4x8xf32>) {
  // expected-error @+1 {{'kiln.slice' op starts [0], limits [4] and strides [1] need one entry per dimension of input tensor<4x8xf32>}}
  %0 = kiln.slice %a {starts = array<i64: 0>, limits = array<i64: 4>, strides = array<i64: 1>} : tensor<4x8xf32>
  return
}

// -----

func.func @slice_range(%a: tensor<4x8xf32>) {
  // expected-error @+1 {{'kiln.slice' op dimension 1: [2, 9) step 1 is not a non-empty range inside input tensor<4x8xf32>}}
  %0 = kiln.slice %a {starts = array<i64: 0, 2>, limits = array<i64: 4, 9>, strides = array<i64: 1, 1>} : tensor<4x8xf32>
  return
}

// -----

func.func @concat_shapes(%a: tensor<4x8xf32>, %b: tensor<3x8xf32>) {
  // expected-error @+1 {{'kiln.concat' op input 1 (tensor<3x8xf32>) does not match input 0 (tensor<4x8xf32>) outside axis 1}}
  %0 = kiln.concat %a, %b {axis = 1 : i64} : tensor<4x8xf32>, tensor<3x8xf32>
  return
}

// -----

func.func @concat_axis(%a: tensor<4x8xf32>) {
  // expected-error @+1 {{'kiln.concat' op axis 2 is out of range for input tensor<4x8xf32>}}
  %0 = kiln.concat %a, %a {axis = 2 : i64} : tensor<4x8xf32>, tensor<4x8xf32>
  return
}

// -----

func.func @split_sizes(%a: tensor<4x8xf32>) {
  // expected-error @+1 {{'kiln.split' op sizes [3, 3] must be positive and add up to dimension 1 of input tensor<4x8xf32>}}
  %0:2 = kiln.split %a {axis = 1 : i64, sizes = array<i64: 3, 3>} : tensor<4x8xf32>
  return
}

// -----

func.func @missing_attr(%a: tensor<4x8xf32>) {
  // expected-error @+1 {{'kiln.transpose' op requires attribute 'perm'}}
  %0 = kiln.transpose %a : tensor<4x8xf32>
  return
}
