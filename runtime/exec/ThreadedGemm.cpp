//===- ThreadedGemm.cpp - a Gemm thunk over the CPU threads ---------------===//
#include "runtime/exec/ThreadedGemm.h"

#include <algorithm>

namespace kiln {

void runThreadedGemm(const GemmCall &g, const float *a, const float *b, float *c,
                     const Blas &blas, ThreadPool &pool) {
  int n = pool.size();
  int64_t batches = 1;
  for (int64_t d : g.batch)
    batches *= d;
  auto offset = [&](int64_t bi, const GemmOperand &o) {
    int64_t off = 0;
    for (int64_t d = g.batch.size() - 1; d >= 0; --d) {
      off += (bi % g.batch[d]) * o.batchStrides[d];
      bi /= g.batch[d];
    }
    return off;
  };
  if (batches >= n || g.m < 2 * n) {
    // Whole matrices per thread (attention: many small GEMMs).
    int64_t chunks = std::min<int64_t>(batches, n);
    pool.run(chunks, [&](int64_t i) {
      for (int64_t bi = batches * i / chunks; bi < batches * (i + 1) / chunks; ++bi)
        blas.sgemm(g.a.transpose, g.b.transpose, g.m, g.n, g.k, a + offset(bi, g.a), g.a.ld,
                   b + offset(bi, g.b), g.b.ld, c + offset(bi, g.c), g.c.ld);
    });
    return;
  }
  // Few large GEMMs: split each one's rows.
  for (int64_t bi = 0; bi < batches; ++bi)
    pool.run(n, [&](int64_t i) {
      int64_t r0 = g.m * i / n, r1 = g.m * (i + 1) / n;
      const float *ai = a + offset(bi, g.a) + (g.a.transpose ? r0 : r0 * g.a.ld);
      blas.sgemm(g.a.transpose, g.b.transpose, r1 - r0, g.n, g.k, ai, g.a.ld,
                 b + offset(bi, g.b), g.b.ld, c + offset(bi, g.c) + r0 * g.c.ld, g.c.ld);
    });
}

} // namespace kiln
