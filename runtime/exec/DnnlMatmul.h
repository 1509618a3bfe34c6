//===- DnnlMatmul.h - matrix products on oneDNN -----------------*- C++ -*-===//
//
// oneDNN's matmul: the linear layers of an f32 step (faster than sgemm at
// their shapes, CpuGemms.cpp) and every GEMM of a bf16 step
// (kiln-assign-precision), bf16 operands with f32 accumulation and a bf16
// or f32 result, on the AVX512-BF16 instructions where the CPU has them
// (brg:avx512_core_bf16: 1.9× its f32 matmul at 6400×256×64 on one EPYC core). Debian's OpenBLAS
// 0.3.21 is built without sbgemm, so oneDNN is the only bf16 GEMM there.
// Primitives are single-threaded (kiln's pool splits the work, as for the
// convolutions) and cached per shape and per pool slot; a thread's share
// of a batched GEMM is one call (3-D memory descriptors).
//
//===----------------------------------------------------------------------===//
#ifndef KILN_RUNTIME_EXEC_DNNLMATMUL_H
#define KILN_RUNTIME_EXEC_DNNLMATMUL_H

#include "runtime/artifact/DType.h"

#include <cstdint>
#include <memory>

namespace kiln {

class DnnlMatmul {
public:
  DnnlMatmul();
  ~DnnlMatmul();

  /// `batch` row-major products C[m×n] = op(A)·op(B), with leading
  /// dimensions and the element distance from one matrix of an operand to
  /// the next (0: the same matrix for every product).
  struct Shape {
    bool transA = false, transB = false;
    int64_t m = 0, n = 0, k = 0, lda = 0, ldb = 0, ldc = 0;
    int64_t batch = 1, strideA = 0, strideB = 0, strideC = 0;
  };

  /// Makes room for pool slots [0, slots); before the pool runs.
  void reserve(int64_t slots);

  /// The products of `s` in one call; A and B of dtype `in` (f32 or bf16), C of
  /// `out` (bf16 or f32), run by pool slot `slot`.
  void run(int64_t slot, DType in, DType out, const Shape &s, const void *a, const void *b,
           void *c);

private:
  struct State;
  std::unique_ptr<State> state;
};

} // namespace kiln

#endif // KILN_RUNTIME_EXEC_DNNLMATMUL_H
