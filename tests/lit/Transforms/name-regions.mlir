// RUN: kiln-opt %s --kiln-fuse --kiln-single-op-regions --kiln-name-regions | FileCheck %s

// Every region is named fusion_N_OPS_SHAPE, numbered in module order over
// every function: the ops that read across elements (here the softmax's
// reduce_max and sum, and the transpose fused after it) before the
// elementwise ones, at most three, then the largest tensor's shape; a
// single-op region is named after its op.

// CHECK-LABEL: func.func @objective
// CHECK: kiln.fusion({{.*}}) {name = "fusion_0_reduce_max_sum_transpose_8x16", rows = 8 : i64}
// CHECK: kiln.fusion({{.*}}) {name = "fusion_1_sum_16x16", rows = 1 : i64}
// CHECK-LABEL: func.func @eval
// CHECK: kiln.fusion({{.*}}) {name = "fusion_2_relu_8x16", rows = 8 : i64}
func.func @objective() {
  %x = kiln.input "x" : tensor<8x16xf32>
  %w = kiln.param "w" {init = {kind = "zeros"}} : tensor<16x16xf32>
  %h = kiln.matmul %x, %w : tensor<8x16xf32>, tensor<16x16xf32>
  %m = kiln.reduce_max %h {axes = array<i64: 1>, keepdim = true} : tensor<8x16xf32>
  %s = kiln.sub %h, %m : tensor<8x16xf32>, tensor<8x1xf32>
  %e = kiln.exp %s : tensor<8x16xf32>
  %z = kiln.sum %e {axes = array<i64: 1>, keepdim = true} : tensor<8x16xf32>
  %p = kiln.div %e, %z : tensor<8x16xf32>, tensor<8x1xf32>
  %t = kiln.transpose %p {perm = array<i64: 1, 0>} : tensor<8x16xf32>
  %o = kiln.matmul %t, %x : tensor<16x8xf32>, tensor<8x16xf32>
  %l = kiln.sum %o {axes = array<i64: 0, 1>} : tensor<16x16xf32>
  kiln.loss %l : tensor<f32>
  return
}
func.func @eval() {
  %x = kiln.input "x" : tensor<8x16xf32>
  %r = kiln.relu %x : tensor<8x16xf32>
  kiln.output "r" %r : tensor<8x16xf32>
  return
}
