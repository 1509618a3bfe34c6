//===- CpuGemms.cpp - Gemm thunks on the CPU ------------------------------===//
#include "runtime/exec/CpuGemms.h"

#include "runtime/artifact/LowFloat.h"
#include "runtime/exec/ThreadedGemm.h"

#include <algorithm>
#include <optional>

namespace kiln {
namespace {

/// The one element stride between consecutive batch matrices of operand
/// `o` when its batch dims flatten into one (0: broadcast), else none.
std::optional<int64_t> flatBatchStride(const GemmCall &g, const GemmOperand &o) {
  for (size_t d = 0; d + 1 < g.batch.size(); ++d)
    if (o.batchStrides[d] != o.batchStrides[d + 1] * g.batch[d + 1])
      return std::nullopt;
  return g.batch.empty() ? 0 : o.batchStrides.back();
}

} // namespace

#ifdef KILN_HAVE_DNNL
bool CpuGemms::runBatchedOnednn(const GemmCall &g, DType operands, DType result, const void *a,
                                const void *b, void *c, ThreadPool &pool) {
  std::optional<int64_t> strideA = flatBatchStride(g, g.a), strideB = flatBatchStride(g, g.b),
                         strideC = flatBatchStride(g, g.c);
  int64_t batches = g.batches();
  if (batches < 2 || !wholeMatricesPerThread(g, pool.size()) || !strideA || !strideB || !strideC)
    return false;
  onednn.reserve(pool.size());
  DnnlMatmul::Shape s{g.a.transpose, g.b.transpose, g.m, g.n, g.k, g.a.ld, g.b.ld, g.c.ld};
  s.strideA = *strideA, s.strideB = *strideB, s.strideC = *strideC;
  int64_t in = elementBytes(operands), out = elementBytes(result);
  int64_t chunks = std::min<int64_t>(batches, pool.size());
  auto at = [](const void *p, int64_t offset, int64_t stride, int64_t b0, int64_t bytes) {
    return static_cast<const char *>(p) + (offset + b0 * stride) * bytes;
  };
  pool.run(chunks, [&](int64_t i) {
    int64_t b0 = batches * i / chunks;
    DnnlMatmul::Shape part = s;
    part.batch = batches * (i + 1) / chunks - b0;
    onednn.run(i, operands, result, part, at(a, g.a.offset, s.strideA, b0, in),
               at(b, g.b.offset, s.strideB, b0, in),
               const_cast<char *>(at(c, g.c.offset, s.strideC, b0, out)));
  });
  return true;
}

void CpuGemms::runRowsOnednn(const GemmCall &g, DType operands, DType result, const void *a,
                             const void *b, void *c, ThreadPool &pool) {
  int64_t in = elementBytes(operands), out = elementBytes(result);
  onednn.reserve(pool.size());
  DnnlMatmul::Shape s{g.a.transpose, g.b.transpose, g.m, g.n, g.k, g.a.ld, g.b.ld, g.c.ld};
  runThreadedGemm(g, a, b, c, in, in, out, pool,
                  [&](int64_t slot, int64_t rows, const void *ai, const void *bi, void *ci) {
                    DnnlMatmul::Shape part = s;
                    part.m = rows;
                    onednn.run(slot, operands, result, part, ai, bi, ci);
                  });
}
#endif

void CpuGemms::run(const GemmCall &g, DType operands, DType result, const void *a,
                   const void *b, void *c, const Blas &blas, ThreadPool &pool) {
  int64_t in = elementBytes(operands), out = elementBytes(result);
  if (operands == DType::F32 && result == DType::F32) {
#ifdef KILN_HAVE_DNNL
    // Many small products against a transposed B (attention's Q·Kᵀ and
    // dO·Vᵀ): one oneDNN call per thread for its share. One sgemm call per
    // product cost more than the product there (DINO, 2 threads: 10×10×16
    // at 5 GFLOP/s against oneDNN's 26, 50×50×16 at 91 against 125), while
    // OpenBLAS stays ahead on the untransposed ones (50×16×50: 193 against
    // 128; 10×16×10: 57 against 38).
    if (g.b.transpose && g.m * g.n * g.k <= kSmallProduct &&
        runBatchedOnednn(g, operands, result, a, b, c, pool))
      return;
    // One product (the linear layers and their gradients): oneDNN's matmul
    // beat sgemm by 10-40% at every such shape of the ViT steps (sup's
    // GEMMs 36 → 30 ms, DINO's step 232 → 208 ms; docs/performance.md).
    if (g.batches() == 1) {
      runRowsOnednn(g, operands, result, a, b, c, pool);
      return;
    }
#endif
    runThreadedGemm(g, a, b, c, 4, 4, 4, pool,
                    [&](int64_t, int64_t rows, const void *ai, const void *bi, void *ci) {
                      blas.sgemm(g.a.transpose, g.b.transpose, rows, g.n, g.k,
                                 static_cast<const float *>(ai), g.a.ld,
                                 static_cast<const float *>(bi), g.b.ld,
                                 static_cast<float *>(ci), g.c.ld);
                    });
    return;
  }
#ifdef KILN_HAVE_DNNL
  if (operands == DType::BF16) {
    // Each thread's matrices in one call: per-call overhead would rival
    // the attention's 50×16×50 products.
    if (!runBatchedOnednn(g, operands, result, a, b, c, pool))
      runRowsOnednn(g, operands, result, a, b, c, pool);
    return;
  }
#endif
  // Widen A's rows and B to f32, sgemm, round the rows of C: O(rows·k +
  // k·n + rows·n) conversions per call beside the 2·rows·n·k flops.
  scratch.resize(std::max<size_t>(scratch.size(), pool.size()));
  runThreadedGemm(g, a, b, c, in, in, out, pool,
                  [&](int64_t slot, int64_t rows, const void *ai, const void *bi, void *ci) {
                    std::vector<float> &s = scratch[slot];
                    s.resize(rows * g.k + g.k * g.n + rows * g.n);
                    float *a32 = s.data(), *b32 = a32 + rows * g.k, *c32 = b32 + g.k * g.n;
                    for (int64_t r = 0; r < rows; ++r)
                      for (int64_t k = 0; k < g.k; ++k)
                        a32[r * g.k + k] = floatAt(
                            ai, operands, g.a.transpose ? k * g.a.ld + r : r * g.a.ld + k);
                    for (int64_t k = 0; k < g.k; ++k)
                      for (int64_t n = 0; n < g.n; ++n)
                        b32[k * g.n + n] = floatAt(
                            bi, operands, g.b.transpose ? n * g.b.ld + k : k * g.b.ld + n);
                    blas.sgemm(false, false, rows, g.n, g.k, a32, g.k, b32, g.n, c32, g.n);
                    for (int64_t r = 0; r < rows; ++r)
                      for (int64_t n = 0; n < g.n; ++n)
                        setFloatAt(ci, result, r * g.c.ld + n, c32[r * g.n + n]);
                  });
}

} // namespace kiln
