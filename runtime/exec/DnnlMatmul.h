//===- DnnlMatmul.h - bf16 matrix products on oneDNN ------------*- C++ -*-===//
//
// The GEMMs of a bf16 step (kiln-assign-precision): oneDNN's matmul with
// bf16 operands, f32 accumulation and a bf16 or f32 result, on the
// AVX512-BF16 instructions where the CPU has them (brg:avx512_core_bf16:
// 1.9× its f32 matmul at 6400×256×64 on one EPYC core). Debian's OpenBLAS
// 0.3.21 is built without sbgemm, so oneDNN is the only bf16 GEMM there.
// Primitives are single-threaded (kiln's pool splits the work, as for the
// convolutions) and cached per shape and per pool slot.
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

  /// Makes room for pool slots [0, slots); before the pool runs.
  void reserve(int64_t slots);

  /// Row-major C[m×n] = op(A)·op(B) with leading dimensions; A and B of
  /// dtype `in` (bf16), C of `out` (bf16 or f32), run by pool slot `slot`.
  void run(int64_t slot, DType in, DType out, bool transA, bool transB, int64_t m, int64_t n,
           int64_t k, const void *a, int64_t lda, const void *b, int64_t ldb, void *c,
           int64_t ldc);

private:
  struct State;
  std::unique_ptr<State> state;
};

} // namespace kiln

#endif // KILN_RUNTIME_EXEC_DNNLMATMUL_H
