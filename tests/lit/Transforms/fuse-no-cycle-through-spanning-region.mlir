// RUN: kiln-opt %s --kiln-fuse | FileCheck %s

// A single-iteration region runs whole where its last op is: here it holds
// exp(%c), which comes before the wide region of exp(%x), and the outer
// sum of that region's rows, which comes after. %o reads exp(%c) (through
// the broadcast) and so depends on the wide region through the small one:
// it must not join the wide region (the two regions would each wait for
// the other: "operand does not dominate this use"). It starts its own.

func.func @objective() {
  %x = kiln.input "x" : tensor<64x128xf32>
  %c = kiln.input "c" : tensor<f32>
  %s1 = kiln.exp %c : tensor<f32>
  %r1 = kiln.exp %x : tensor<64x128xf32>
  %s2 = kiln.sum %r1 {axes = array<i64: 0, 1>} : tensor<64x128xf32>
  %b = kiln.broadcast %s1 {shape = array<i64: 64, 128>} : tensor<f32>
  %o = kiln.mul %r1, %b : tensor<64x128xf32>, tensor<64x128xf32>
  %l = kiln.sum %o {axes = array<i64: 0, 1>} : tensor<64x128xf32>
  %t = kiln.add %l, %s2 : tensor<f32>, tensor<f32>
  kiln.loss %t : tensor<f32>
  return
}

// CHECK: %[[WIDE:.*]]:2 = kiln.fusion(%{{.*}}) {rows = 64 : i64}
// CHECK-NOT: kiln.mul
// CHECK: kiln.yield
// CHECK: %[[SMALL:.*]]:2 = kiln.fusion(%{{.*}}, %[[WIDE]]#1) {rows = 1 : i64}
// CHECK: kiln.fusion(%[[SMALL]]#0, %[[WIDE]]#0) {rows = 64 : i64}
// CHECK: kiln.broadcast
// CHECK: kiln.mul
