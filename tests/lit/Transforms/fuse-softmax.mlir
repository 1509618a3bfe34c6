// RUN: kiln-opt %s --kiln-fuse | FileCheck %s

// max, subtract, exp, sum, divide: one region whose rows are the batch;
// the GEMM that feeds it stays outside.

// CHECK: %[[H:.*]] = kiln.matmul
// CHECK: %[[P:.*]] = kiln.fusion(%[[H]]) {rows = 8 : i64} : (tensor<8x16xf32>) -> tensor<8x16xf32> {
// CHECK-NEXT: ^bb0(%[[X:.*]]: tensor<8x16xf32>):
// CHECK-NEXT: %[[M:.*]] = kiln.reduce_max %[[X]] {axes = array<i64: 1>, keepdim = true, kiln.parallel_dim = 0 : i64}
// CHECK-NEXT: %[[S:.*]] = kiln.sub %[[X]], %[[M]]
// CHECK-NEXT: %[[E:.*]] = kiln.exp %[[S]]
// CHECK-NEXT: %[[Z:.*]] = kiln.sum %[[E]] {axes = array<i64: 1>, keepdim = true
// CHECK-NEXT: %[[Y:.*]] = kiln.div %[[E]], %[[Z]]
// CHECK-NEXT: kiln.yield %[[Y]]
// CHECK: kiln.matmul %[[P]]
func.func @objective() {
  %x = kiln.input "x" : tensor<8x16xf32>
  %w = kiln.param "w" {init = {kind = "zeros"}} : tensor<16x16xf32>
  %h = kiln.matmul %x, %w : tensor<8x16xf32>, tensor<16x16xf32>
  %m = kiln.reduce_max %h {axes = array<i64: 1>, keepdim = true} : tensor<8x16xf32>
  %s = kiln.sub %h, %m : tensor<8x16xf32>, tensor<8x1xf32>
  %e = kiln.exp %s : tensor<8x16xf32>
  %z = kiln.sum %e {axes = array<i64: 1>, keepdim = true} : tensor<8x16xf32>
  %p = kiln.div %e, %z : tensor<8x16xf32>, tensor<8x1xf32>
  %o = kiln.matmul %p, %w : tensor<8x16xf32>, tensor<16x16xf32>
  %l = kiln.sum %o {axes = array<i64: 0, 1>} : tensor<8x16xf32>
  kiln.loss %l : tensor<f32>
  return
}
