// RUN: kiln-opt %s | kiln-opt | FileCheck %s
// Reductions, shape ops and matmul print and parse back with inferred types.

// CHECK-LABEL: func @reductions
func.func @reductions(%x: tensor<4x8x16xf32>) -> (tensor<4x1x1xf32>, tensor<8xf32>, tensor<4x16xi32>) {
  // CHECK: kiln.sum %{{.*}} {axes = array<i64: 1, 2>, keepdim = true} : tensor<4x8x16xf32>
  %0 = kiln.sum %x {axes = array<i64: 1, 2>, keepdim = true} : tensor<4x8x16xf32>
  // CHECK: kiln.mean %{{.*}} {axes = array<i64: 0, 2>} : tensor<4x8x16xf32>
  %1 = kiln.mean %x {axes = array<i64: 0, 2>} : tensor<4x8x16xf32>
  // CHECK: kiln.reduce_max
  %2 = kiln.reduce_max %x {axes = array<i64: 2>} : tensor<4x8x16xf32>
  // CHECK: kiln.logsumexp
  %3 = kiln.logsumexp %x {axes = array<i64: 2>} : tensor<4x8x16xf32>
  // CHECK: kiln.argmax %{{.*}} {axis = 1 : i64} : tensor<4x8x16xf32>
  %4 = kiln.argmax %x {axis = 1 : i64} : tensor<4x8x16xf32>
  return %0, %1, %4 : tensor<4x1x1xf32>, tensor<8xf32>, tensor<4x16xi32>
}

// CHECK-LABEL: func @shapes
func.func @shapes(%x: tensor<2x6x4xf32>, %c: tensor<1x1x4xf32>) -> tensor<2x7x4xf32> {
  // CHECK: kiln.reshape %{{.*}} : tensor<2x6x4xf32> to tensor<2x3x2x4xf32>
  %0 = kiln.reshape %x : tensor<2x6x4xf32> to tensor<2x3x2x4xf32>
  // CHECK: kiln.transpose %{{.*}} {perm = array<i64: 2, 0, 1, 3>} : tensor<2x3x2x4xf32>
  %1 = kiln.transpose %0 {perm = array<i64: 2, 0, 1, 3>} : tensor<2x3x2x4xf32>
  // CHECK: kiln.broadcast %{{.*}} {shape = array<i64: 2, 1, 4>} : tensor<1x1x4xf32>
  %2 = kiln.broadcast %c {shape = array<i64: 2, 1, 4>} : tensor<1x1x4xf32>
  // CHECK: kiln.slice %{{.*}} {limits = array<i64: 2, 6, 4>, starts = array<i64: 0, 1, 0>, strides = array<i64: 1, 2, 1>} : tensor<2x6x4xf32>
  %3 = kiln.slice %x {limits = array<i64: 2, 6, 4>, starts = array<i64: 0, 1, 0>, strides = array<i64: 1, 2, 1>} : tensor<2x6x4xf32>
  // CHECK: kiln.concat %{{.*}}, %{{.*}} {axis = 1 : i64} : tensor<2x1x4xf32>, tensor<2x6x4xf32>
  %4 = kiln.concat %2, %x {axis = 1 : i64} : tensor<2x1x4xf32>, tensor<2x6x4xf32>
  // CHECK: %{{.*}}:2 = kiln.split %{{.*}} {axis = 1 : i64, sizes = array<i64: 2, 4>} : tensor<2x6x4xf32>
  %5:2 = kiln.split %x {axis = 1 : i64, sizes = array<i64: 2, 4>} : tensor<2x6x4xf32>
  return %4 : tensor<2x7x4xf32>
}

// CHECK-LABEL: func @matmuls
func.func @matmuls(%x: tensor<8x50x64xf32>, %w: tensor<192x64xf32>, %q: tensor<8x4x50x16xf32>) -> tensor<8x4x50x50xf32> {
  // CHECK: kiln.matmul %{{.*}}, %{{.*}} {transpose_rhs = true} : tensor<8x50x64xf32>, tensor<192x64xf32>
  %0 = kiln.matmul %x, %w {transpose_rhs = true} : tensor<8x50x64xf32>, tensor<192x64xf32>
  // CHECK: kiln.matmul %{{.*}}, %{{.*}} {transpose_rhs = true} : tensor<8x4x50x16xf32>, tensor<8x4x50x16xf32>
  %1 = kiln.matmul %q, %q {transpose_rhs = true} : tensor<8x4x50x16xf32>, tensor<8x4x50x16xf32>
  // CHECK: kiln.matmul %{{.*}}, %{{.*}} {transpose_lhs = true} : tensor<8x50x64xf32>, tensor<8x50x64xf32>
  %2 = kiln.matmul %x, %x {transpose_lhs = true} : tensor<8x50x64xf32>, tensor<8x50x64xf32>
  return %1 : tensor<8x4x50x50xf32>
}

// CHECK-LABEL: func @composites
func.func @composites(%x: tensor<8x50x64xf32>, %g: tensor<64xf32>, %l: tensor<8xi32>, %p: tensor<1x64x7x7xf32>) {
  // CHECK: kiln.softmax %{{.*}} {axis = 2 : i64} : tensor<8x50x64xf32>
  %0 = kiln.softmax %x {axis = 2 : i64} : tensor<8x50x64xf32>
  // CHECK: kiln.log_softmax
  %1 = kiln.log_softmax %x {axis = 2 : i64} : tensor<8x50x64xf32>
  // CHECK: kiln.l2_normalize %{{.*}} {axis = 2 : i64} : tensor<8x50x64xf32>
  %2 = kiln.l2_normalize %x {axis = 2 : i64} : tensor<8x50x64xf32>
  // CHECK: kiln.layer_norm %{{.*}}, %{{.*}}, %{{.*}} {eps = 9.9999999999999995E-7 : f64} : tensor<8x50x64xf32>, tensor<64xf32>, tensor<64xf32>
  %3 = kiln.layer_norm %x, %g, %g {eps = 1.0e-06 : f64} : tensor<8x50x64xf32>, tensor<64xf32>, tensor<64xf32>
  // CHECK: kiln.one_hot %{{.*}} {num_classes = 10 : i64} : tensor<8xi32>
  %4 = kiln.one_hot %l {num_classes = 10 : i64} : tensor<8xi32>
  // CHECK: kiln.resize_bilinear %{{.*}} {size = array<i64: 3, 3>} : tensor<1x64x7x7xf32>
  %5 = kiln.resize_bilinear %p {size = array<i64: 3, 3>} : tensor<1x64x7x7xf32>
  return
}
