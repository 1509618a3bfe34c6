// RUN: kiln-opt %s --kiln-fuse --kiln-single-op-regions | FileCheck %s

// A bias gradient sums a GEMM's output over batch and tokens. As one
// region along the features, each row would read its 6 elements 8 floats
// apart; split along the batch, the inner sum folds contiguous rows and
// only the batch's partial sums are read strided.

// CHECK: %[[G:.*]] = kiln.matmul
// CHECK: %[[P:.*]] = kiln.fusion(%[[G]]) {rows = 4 : i64} : (tensor<4x6x8xf32>) -> tensor<4x1x8xf32> {
// CHECK-NEXT: ^bb0(%[[X:.*]]: tensor<4x6x8xf32>):
// CHECK-NEXT: kiln.sum %[[X]] {axes = array<i64: 1>, keepdim = true, kiln.parallel_dim = 0 : i64}
// CHECK: kiln.fusion(%[[P]]) {rows = 8 : i64} : (tensor<4x1x8xf32>) -> tensor<8xf32> {
// CHECK: kiln.sum %{{.*}} {axes = array<i64: 0>, keepdim = true, kiln.parallel_dim = 2 : i64}
// CHECK: kiln.reshape

// Without keepdim, the same split.
// CHECK: kiln.fusion(%[[G]]) {rows = 4 : i64} : (tensor<4x6x8xf32>) -> tensor<4x8xf32> {
// CHECK: kiln.sum %{{.*}} {axes = array<i64: 1>, kiln.parallel_dim = 0 : i64}
// CHECK: kiln.fusion(%{{.*}}) {rows = 8 : i64} : (tensor<4x8xf32>) -> tensor<8xf32> {
// CHECK: kiln.sum %{{.*}} {axes = array<i64: 0>, kiln.parallel_dim = 0 : i64}

// Over the trailing axes the rows are contiguous already: no split.
// CHECK: kiln.fusion(%[[G]]) {rows = 4 : i64} : (tensor<4x6x8xf32>) -> tensor<4x1x1xf32> {
// CHECK: kiln.sum %{{.*}} {axes = array<i64: 1, 2>, keepdim = true, kiln.parallel_dim = 0 : i64}
func.func @objective() {
  %x = kiln.input "x" : tensor<4x6x16xf32>
  %w = kiln.param "w" {init = {kind = "zeros"}} : tensor<16x8xf32>
  %g = kiln.matmul %x, %w : tensor<4x6x16xf32>, tensor<16x8xf32>
  %b = kiln.sum %g {axes = array<i64: 0, 1>, keepdim = true} : tensor<4x6x8xf32>
  %bias = kiln.reshape %b : tensor<1x1x8xf32> to tensor<8xf32>
  kiln.output "bias" %bias : tensor<8xf32>
  %c = kiln.sum %g {axes = array<i64: 0, 1>} : tensor<4x6x8xf32>
  kiln.output "c" %c : tensor<8xf32>
  %r = kiln.sum %g {axes = array<i64: 1, 2>, keepdim = true} : tensor<4x6x8xf32>
  kiln.output "r" %r : tensor<4x1x1xf32>
  %l = kiln.constant dense<0.0> : tensor<f32>
  kiln.loss %l : tensor<f32>
  return
}
