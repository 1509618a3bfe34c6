//===- ThreadedGemm.cpp - a Gemm thunk over the CPU threads ---------------===//
#include "runtime/exec/ThreadedGemm.h"

#include <algorithm>

namespace kiln {

void runThreadedGemm(const Thunk &t, const float *a, const float *b, float *c,
                     const Blas &blas, ThreadPool &pool) {
  int n = pool.size();
  int64_t batches = 1;
  for (int64_t d : t.batch)
    batches *= d;
  auto offset = [&](int64_t bi, const GemmOperand &o) {
    int64_t off = 0;
    for (int64_t d = t.batch.size() - 1; d >= 0; --d) {
      off += (bi % t.batch[d]) * o.batchStrides[d];
      bi /= t.batch[d];
    }
    return off;
  };
  if (batches >= n || t.m < 2 * n) {
    // Whole matrices per thread (attention: many small GEMMs).
    int64_t chunks = std::min<int64_t>(batches, n);
    pool.run(chunks, [&](int64_t i) {
      for (int64_t bi = batches * i / chunks; bi < batches * (i + 1) / chunks; ++bi)
        blas.sgemm(t.a.transpose, t.b.transpose, t.m, t.n, t.k, a + offset(bi, t.a), t.a.ld,
                   b + offset(bi, t.b), t.b.ld, c + offset(bi, t.c), t.c.ld);
    });
    return;
  }
  // Few large GEMMs: split each one's rows.
  for (int64_t bi = 0; bi < batches; ++bi)
    pool.run(n, [&](int64_t i) {
      int64_t r0 = t.m * i / n, r1 = t.m * (i + 1) / n;
      const float *ai = a + offset(bi, t.a) + (t.a.transpose ? r0 : r0 * t.a.ld);
      blas.sgemm(t.a.transpose, t.b.transpose, r1 - r0, t.n, t.k, ai, t.a.ld,
                 b + offset(bi, t.b), t.b.ld, c + offset(bi, t.c) + r0 * t.c.ld, t.c.ld);
    });
}

} // namespace kiln
