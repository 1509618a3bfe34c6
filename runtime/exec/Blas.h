//===- Blas.h - the GEMM library, loaded at run time --------------*- C++ -*-===//
//
// kiln calls OpenBLAS's single-threaded sgemm and parallelises over rows
// and batches itself. The library is dlopen'ed so that the core type can be
// chosen first: Debian's OpenBLAS 0.3.21 does not recognise recent AVX-512
// CPUs and falls back to Prescott kernels (~4x slower at our shapes), so
// unless OPENBLAS_CORETYPE is already set, kiln sets it from the CPU's
// features before loading (see docs/performance.md).
//
//===----------------------------------------------------------------------===//
#ifndef KILN_RUNTIME_EXEC_BLAS_H
#define KILN_RUNTIME_EXEC_BLAS_H

#include <string>

namespace kiln {

class Blas {
public:
  /// The loaded library, or null with `error` naming the package to install.
  static Blas *get(std::string &error);

  /// Row-major C[m×n] = op(A)·op(B) + beta·C, with leading dimensions.
  void sgemm(bool transA, bool transB, int m, int n, int k, const float *a, int lda,
             const float *b, int ldb, float *c, int ldc, float beta = 0.0f) const;

  /// "OpenBLAS 0.3.21 (core Cooperlake)" for logs and benchmarks.
  std::string description;

private:
  using SgemmFn = void (*)(int, int, int, int, int, int, float, const float *, int,
                           const float *, int, float, float *, int);
  SgemmFn fn = nullptr;
};

} // namespace kiln

#endif // KILN_RUNTIME_EXEC_BLAS_H
