// RUN: kiln-opt %s --kiln-single-op-regions | FileCheck %s

// A transpose no region took runs alone in one, in parallel along its
// largest axis (traced back to the operand's dim 2); the GEMM and the
// reshape (a view of its operand's buffer) stay outside.

// CHECK: %[[H:.*]] = kiln.matmul
// CHECK: %[[T:.*]] = kiln.fusion(%[[H]]) {rows = 32 : i64} : (tensor<4x8x32xf32>) -> tensor<4x32x8xf32> {
// CHECK-NEXT: ^bb0(%[[X:.*]]: tensor<4x8x32xf32>):
// CHECK-NEXT: %[[Y:.*]] = kiln.transpose %[[X]] {kiln.parallel_dim = 1 : i64, perm = array<i64: 0, 2, 1>}
// CHECK-NEXT: kiln.yield %[[Y]]
// CHECK: kiln.reshape %[[T]]
func.func @objective() {
  %x = kiln.input "x" : tensor<4x8x16xf32>
  %w = kiln.param "w" {init = {kind = "zeros"}} : tensor<16x32xf32>
  %h = kiln.matmul %x, %w : tensor<4x8x16xf32>, tensor<16x32xf32>
  %t = kiln.transpose %h {perm = array<i64: 0, 2, 1>} : tensor<4x8x32xf32>
  %r = kiln.reshape %t : tensor<4x32x8xf32> to tensor<4x256xf32>
  kiln.output "r" %r : tensor<4x256xf32>
  return
}
