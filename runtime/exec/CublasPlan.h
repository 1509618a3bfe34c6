//===- CublasPlan.h - a Gemm thunk as cuBLAS strided-batched calls -*- C++ -*-===//
//
// kiln's GEMMs are row-major (C[b] = op(A[b])·op(B[b]), any batch dims,
// each operand with its own batch strides); cuBLAS is column-major. A
// row-major matrix with leading dimension ld is the column-major transpose
// with the same ld, so C = A·B is computed as Cᵀ = Bᵀ·Aᵀ: the operands
// swapped, m and n swapped, the transpose flags kept. Batch dims that
// every operand walks with one stride merge into one strided-batched call;
// what cannot merge becomes one call per outer index. Free of CUDA types,
// so the CPU tests check the plan against the row-major GEMM.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_RUNTIME_EXEC_CUBLASPLAN_H
#define KILN_RUNTIME_EXEC_CUBLASPLAN_H

#include "runtime/artifact/Program.h"

#include <vector>

namespace kiln {

/// One cublasSgemmStridedBatched(transA, transB, m, n, k, 1, A + offsetA,
/// lda, strideA, B + offsetB, ldb, strideB, 0, C + offsetC, ldc, strideC,
/// batches) in cuBLAS's (column-major) terms; offsets in elements.
struct CublasGemm {
  bool transA, transB;
  int64_t m, n, k;
  int64_t offsetA, lda, strideA;
  int64_t offsetB, ldb, strideB;
  int64_t offsetC, ldc, strideC;
  int64_t batches;
};

/// The calls that compute GEMM `g`; A, B and C are the buffers of g.a,
/// g.b and g.c (their element offsets included).
std::vector<CublasGemm> planCublasGemm(const GemmCall &g);

} // namespace kiln

#endif // KILN_RUNTIME_EXEC_CUBLASPLAN_H
