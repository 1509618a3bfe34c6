// RUN: kiln-opt %s --pass-pipeline='builtin.module(func.func(kiln-fuse))' --mlir-disable-threading | FileCheck %s

// Without threading one kiln-fuse instance runs on both functions in turn;
// the second run must start from nothing (it once rebuilt the first
// function's regions, whose ops had moved into kiln.fusion bodies, and
// crashed).

// CHECK-LABEL: func.func @eval
// CHECK: kiln.fusion({{.*}}) {rows = 8 : i64}
// CHECK-LABEL: func.func @objective
// CHECK: kiln.fusion({{.*}}) {rows = 4 : i64}
func.func @eval() {
  %x = kiln.input "x" : tensor<8x16xf32>
  %e = kiln.exp %x : tensor<8x16xf32>
  %y = kiln.add %e, %x : tensor<8x16xf32>, tensor<8x16xf32>
  kiln.output "y" %y : tensor<8x16xf32>
  return
}
func.func @objective() {
  %x = kiln.input "x" : tensor<4x16xf32>
  %e = kiln.exp %x : tensor<4x16xf32>
  %y = kiln.add %e, %x : tensor<4x16xf32>, tensor<4x16xf32>
  %l = kiln.sum %y {axes = array<i64: 0, 1>} : tensor<4x16xf32>
  kiln.loss %l : tensor<f32>
  return
}
