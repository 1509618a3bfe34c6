// RUN: kiln-opt %s --kiln-insert-all-reduce='first-bucket-size=32 bucket-size=256' | FileCheck %s

// Gradients go into buckets in the order backward produces them, not the
// order of their kiln.gradient ops: b's (32 bytes) closes the small first
// bucket, w2's (256 bytes) the next, w1's starts a third. Each all-reduce
// stands right after its last gradient's producer; only the kiln.gradient
// sinks read the averaged values, backward (w1's from w2's) the rank's own.
// The loss is a constant here, the same on every rank: no bucket of its own.

// CHECK: %[[GB:.*]] = kiln.sum %{{.*}} {axes = array<i64: 0>}
// CHECK-NEXT: %[[RB:.*]] = kiln.all_reduce %[[GB]] {bucket = 0 : i64, bytes = 32 : i64, gradients} : tensor<8xf32>
// CHECK-NEXT: %[[G2:.*]] = kiln.matmul
// CHECK-NEXT: %[[R2:.*]] = kiln.all_reduce %[[G2]] {bucket = 1 : i64, bytes = 256 : i64, gradients} : tensor<8x8xf32>
// CHECK-NEXT: %[[G1:.*]] = kiln.mul %[[G2]], %[[G2]]
// CHECK-NEXT: %[[R1:.*]] = kiln.all_reduce %[[G1]] {bucket = 2 : i64, bytes = 256 : i64, gradients} : tensor<8x8xf32>
// CHECK-NEXT: kiln.gradient "w1" %[[R1]]
// CHECK-NEXT: kiln.gradient "w2" %[[R2]]
// CHECK-NEXT: kiln.gradient "b" %[[RB]]
func.func @objective() {
  %x = kiln.input "x" : tensor<4x8xf32>
  %w1 = kiln.param "w1" {init = {kind = "zeros"}} : tensor<8x8xf32>
  %w2 = kiln.param "w2" {init = {kind = "zeros"}} : tensor<8x8xf32>
  %b = kiln.param "b" {init = {kind = "zeros"}} : tensor<8xf32>
  %d = kiln.matmul %x, %w1 : tensor<4x8xf32>, tensor<8x8xf32>
  %l = kiln.constant dense<0.0> : tensor<f32>
  kiln.loss %l : tensor<f32>
  %gb = kiln.sum %d {axes = array<i64: 0>} : tensor<4x8xf32>
  %g2 = kiln.matmul %x, %d {transpose_lhs = true} : tensor<4x8xf32>, tensor<4x8xf32>
  %g1 = kiln.mul %g2, %g2 : tensor<8x8xf32>, tensor<8x8xf32>
  kiln.gradient "w1" %g1 : tensor<8x8xf32>
  kiln.gradient "w2" %g2 : tensor<8x8xf32>
  kiln.gradient "b" %gb : tensor<8xf32>
  return
}
