// RUN: kiln-opt %s -canonicalize | FileCheck %s
// exp(log_softmax(x)) becomes softmax(x) on the same axis, so fused codegen
// can share one pass of exponentials between it and the log-softmax.

// CHECK-LABEL: func.func @exp_of_log_softmax
// CHECK-SAME: (%[[X:.*]]: tensor<4x8xf32>)
func.func @exp_of_log_softmax(%x: tensor<4x8xf32>) -> (tensor<4x8xf32>, tensor<4x8xf32>) {
  // CHECK: %[[L:.*]] = kiln.log_softmax %[[X]] {axis = 0 : i64}
  // CHECK: %[[S:.*]] = kiln.softmax %[[X]] {axis = 0 : i64}
  // CHECK-NOT: kiln.exp
  // CHECK: return %[[L]], %[[S]]
  %l = kiln.log_softmax %x {axis = 0 : i64} : tensor<4x8xf32>
  %e = kiln.exp %l : tensor<4x8xf32>
  return %l, %e : tensor<4x8xf32>, tensor<4x8xf32>
}

// An exp of anything else stays.
// CHECK-LABEL: func.func @exp_of_softmax
// CHECK: kiln.exp
func.func @exp_of_softmax(%x: tensor<4x8xf32>) -> tensor<4x8xf32> {
  %s = kiln.softmax %x {axis = 1 : i64} : tensor<4x8xf32>
  %e = kiln.exp %s : tensor<4x8xf32>
  return %e : tensor<4x8xf32>
}
