//===- CublasPlanTest.cpp - the cuBLAS calls compute the row-major GEMM ---===//
//
// planCublasGemm turns a kiln Gemm thunk (row-major, batch dims with
// per-operand strides) into column-major strided-batched calls. Each plan
// is executed here by a naive column-major GEMM with cuBLAS's semantics
// and must equal the row-major definition exactly (the same products in
// the same order), for every transpose combination, leading dimensions
// wider than the matrix, element offsets, mergeable and non-mergeable
// batch dims and a broadcast operand.
//
//===----------------------------------------------------------------------===//
#include "GemmDefinition.h"

#include "runtime/exec/CublasPlan.h"

#include <gtest/gtest.h>

#include <vector>

namespace kiln {
namespace {

/// C = op(A)·op(B) by cuBLAS's definition: column-major, element (i, j) of
/// X at X[i + j·ld]; op(X) = Xᵀ when trans.
void columnMajorGemm(const CublasGemm &g, const float *A, const float *B, float *C) {
  for (int64_t bi = 0; bi < g.batches; ++bi)
    for (int64_t i = 0; i < g.m; ++i)
      for (int64_t j = 0; j < g.n; ++j) {
        float sum = 0;
        for (int64_t l = 0; l < g.k; ++l) {
          float a = g.transA ? A[g.offsetA + bi * g.strideA + l + i * g.lda]
                             : A[g.offsetA + bi * g.strideA + i + l * g.lda];
          float b = g.transB ? B[g.offsetB + bi * g.strideB + j + l * g.ldb]
                             : B[g.offsetB + bi * g.strideB + l + j * g.ldb];
          sum += a * b;
        }
        C[g.offsetC + bi * g.strideC + i + j * g.ldc] = sum;
      }
}

/// The thunk's definition: row-major, batch index by batch index.
void rowMajorGemm(const GemmCall &t, const float *A, const float *B, float *C) {
  for (int64_t bi = 0; bi < t.batches(); ++bi) {
    auto off = test::gemmOffsets(t, bi);
    for (int64_t i = 0; i < t.m; ++i)
      for (int64_t j = 0; j < t.n; ++j) {
        float sum = 0;
        for (int64_t l = 0; l < t.k; ++l) {
          float a = t.a.transpose ? A[off[0] + l * t.a.ld + i] : A[off[0] + i * t.a.ld + l];
          float b = t.b.transpose ? B[off[1] + j * t.b.ld + l] : B[off[1] + l * t.b.ld + j];
          sum += a * b;
        }
        C[off[2] + i * t.c.ld + j] = sum;
      }
  }
}

/// Runs the plan and the definition on the same patterned inputs.
void expectSame(const GemmCall &t, int64_t elemsA, int64_t elemsB, int64_t elemsC,
                size_t expectedCalls) {
  std::vector<float> A(elemsA), B(elemsB), want(elemsC, -7), got(elemsC, -7);
  for (int64_t i = 0; i < elemsA; ++i)
    A[i] = float((i * 37) % 23) / 8 - 1;
  for (int64_t i = 0; i < elemsB; ++i)
    B[i] = float((i * 11) % 19) / 4 - 2;
  rowMajorGemm(t, A.data(), B.data(), want.data());
  std::vector<CublasGemm> plan = planCublasGemm(t);
  EXPECT_EQ(plan.size(), expectedCalls);
  for (const CublasGemm &g : plan)
    columnMajorGemm(g, B.data(), A.data(), got.data()); // cuBLAS's A is kiln's B
  EXPECT_EQ(got, want);
}

GemmCall gemm(int64_t m, int64_t n, int64_t k, bool ta, bool tb) {
  GemmCall t;
  t.m = m, t.n = n, t.k = k;
  t.a = {0, 0, ta ? m : k, ta, {}};
  t.b = {1, 0, tb ? k : n, tb, {}};
  t.c = {2, 0, n, false, {}};
  return t;
}

TEST(CublasPlan, EveryTransposeOfOneMatrix) {
  for (bool ta : {false, true})
    for (bool tb : {false, true}) {
      SCOPED_TRACE(testing::Message() << "transA " << ta << " transB " << tb);
      expectSame(gemm(5, 3, 4, ta, tb), 20, 12, 15, 1);
    }
}

TEST(CublasPlan, WideLeadingDimensionsAndOffsets) {
  // A 5×4 inside rows of 9 from element 2, B 4×3 in rows of 6 from 1,
  // C 5×3 in rows of 8 from 3 (the untouched elements stay -7).
  GemmCall t = gemm(5, 3, 4, false, false);
  t.a.ld = 9, t.a.offset = 2;
  t.b.ld = 6, t.b.offset = 1;
  t.c.ld = 8, t.c.offset = 3;
  expectSame(t, 2 + 5 * 9, 1 + 4 * 6, 3 + 5 * 8, 1);
}

TEST(CublasPlan, ContiguousBatchDimsMergeIntoOneCall) {
  // [2, 3] batches of 4×5 · 5×2, every operand packed: one call of 6.
  GemmCall t = gemm(4, 2, 5, false, true);
  t.batch = {2, 3};
  t.a.batchStrides = {3 * 20, 20};
  t.b.batchStrides = {3 * 10, 10};
  t.c.batchStrides = {3 * 8, 8};
  expectSame(t, 6 * 20, 6 * 10, 6 * 8, 1);
}

TEST(CublasPlan, HeadsInterleavedInRowsStayTwoDims) {
  // Attention's Q·Kᵀ: [batch 2, heads 3] of tokens 4 × head dim 2, read in
  // place from rows of 3 heads · 2 (ld 6): the batch dim cannot merge
  // with the head dim, so one call per batch index, 3 heads each.
  GemmCall t = gemm(4, 4, 2, false, true);
  t.batch = {2, 3};
  t.a.ld = t.b.ld = 6;
  t.a.batchStrides = t.b.batchStrides = {4 * 6, 2};
  t.c.batchStrides = {3 * 16, 16};
  expectSame(t, 2 * 24, 2 * 24, 6 * 16, 2);
}

TEST(CublasPlan, BroadcastOperandHasStrideZero) {
  // One weight matrix for 3 batches.
  GemmCall t = gemm(2, 3, 4, false, false);
  t.batch = {3};
  t.a.batchStrides = {8};
  t.b.batchStrides = {0};
  t.c.batchStrides = {6};
  expectSame(t, 24, 12, 18, 1);
}

} // namespace
} // namespace kiln
