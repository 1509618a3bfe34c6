//===- ThreadedGemm.cpp - a Gemm thunk over the CPU threads ---------------===//
#include "runtime/exec/ThreadedGemm.h"

#include <algorithm>

namespace kiln {

bool wholeMatricesPerThread(const GemmCall &g, int threads) {
  return g.batches() >= threads || g.m < 2 * threads;
}

void runThreadedGemm(const GemmCall &g, const void *a, const void *b, void *c, int64_t aBytes,
                     int64_t bBytes, int64_t cBytes, ThreadPool &pool, const MatrixGemm &gemm) {
  int n = pool.size();
  int64_t batches = g.batches();
  // Where element `element` (past the operand's offset) of batch matrix bi of
  // operand o is.
  auto address = [&](const void *base, int64_t bytes, int64_t bi, const GemmOperand &o,
                     int64_t element) {
    int64_t off = o.offset + element;
    for (int64_t d = g.batch.size() - 1; d >= 0; --d) {
      off += (bi % g.batch[d]) * o.batchStrides[d];
      bi /= g.batch[d];
    }
    return static_cast<const char *>(base) + off * bytes;
  };
  auto mutableC = [&](int64_t bi, int64_t element) {
    return const_cast<char *>(address(c, cBytes, bi, g.c, element));
  };
  if (wholeMatricesPerThread(g, n)) {
    // Whole matrices per thread (attention: many small GEMMs).
    int64_t chunks = std::min<int64_t>(batches, n);
    pool.run(chunks, [&](int64_t i) {
      for (int64_t bi = batches * i / chunks; bi < batches * (i + 1) / chunks; ++bi)
        gemm(i, g.m, address(a, aBytes, bi, g.a, 0), address(b, bBytes, bi, g.b, 0),
             mutableC(bi, 0));
    });
    return;
  }
  // Few large GEMMs: split each one's rows.
  for (int64_t bi = 0; bi < batches; ++bi)
    pool.run(n, [&](int64_t i) {
      int64_t r0 = g.m * i / n, r1 = g.m * (i + 1) / n;
      gemm(i, r1 - r0, address(a, aBytes, bi, g.a, g.a.transpose ? r0 : r0 * g.a.ld),
           address(b, bBytes, bi, g.b, 0), mutableC(bi, r0 * g.c.ld));
    });
}

} // namespace kiln
