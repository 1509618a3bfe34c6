// RUN: kiln-opt %s --kiln-single-op-regions | FileCheck %s

// A pad of both axes of a [2, 2] operand: no axis passes through it
// unchanged, so the region is a single iteration (rows 1, no parallel dim).

// CHECK: kiln.fusion(%{{.*}}) {rows = 1 : i64} : (tensor<2x2xf32>) -> tensor<4x6xf32> {
// CHECK: kiln.pad %{{.*}} {high = array<i64: 1, 2>, interior = array<i64: 0, 0>, kiln.parallel_dim = -1 : i64, low = array<i64: 1, 2>}
func.func @objective() {
  %x = kiln.input "x" : tensor<2x2xf32>
  %p = kiln.pad %x {low = array<i64: 1, 2>, high = array<i64: 1, 2>, interior = array<i64: 0, 0>} : tensor<2x2xf32>
  kiln.output "p" %p : tensor<4x6xf32>
  return
}
