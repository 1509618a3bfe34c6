// RUN: kiln-opt %s --kiln-fuse=explain=true --verify-diagnostics -o /dev/null

// With explain, every refusal says why, and every region what it holds.

func.func @objective() {
  %x = kiln.input "x" : tensor<8x16xf32>
  %w = kiln.param "w" {init = {kind = "zeros"}} : tensor<16x16xf32>
  // expected-remark @+1 {{not fused: a GEMM runs in the BLAS library}}
  %h = kiln.matmul %x, %w : tensor<8x16xf32>, tensor<16x16xf32>
  %t = kiln.transpose %h {perm = array<i64: 1, 0>} : tensor<8x16xf32>
  %e = kiln.exp %t : tensor<16x8xf32>
  // The sum over both axes is split: its row part joins exp's region, its
  // part along the rows cannot.
  // The region is listed with the transpose it absorbed (a view inside a
  // region is only strides; the transpose has no remark of its own).
  // expected-remark @+3 {{fused 3 ops over 16 rows: kiln.transpose, kiln.exp, kiln.sum}}
  // expected-remark @+2 {{starts a new region: reduces along the parallel axis}}
  // expected-remark @+1 {{not fused: no fusible neighbour}}
  %l = kiln.sum %e {axes = array<i64: 0, 1>} : tensor<16x8xf32>
  kiln.loss %l : tensor<f32>
  return
}
