//===- ThreadedGemm.h - a Gemm thunk over the CPU threads -------*- C++ -*-===//
//
// The GEMM libraries run single-threaded; the executor spreads each Gemm
// thunk (C[b] = op(A[b])·op(B[b]) over any batch dims) over its threads
// itself: whole matrices per thread when there are at least as many as
// threads or each is short (attention: many small GEMMs), else the rows of
// each matrix split over the threads.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_RUNTIME_EXEC_THREADEDGEMM_H
#define KILN_RUNTIME_EXEC_THREADEDGEMM_H

#include "runtime/artifact/Program.h"
#include "runtime/exec/ThreadPool.h"

#include <functional>

namespace kiln {

/// Rows [0, rows) of one matrix product of the call: C = op(A)·op(B) with
/// the call's n, k, transpositions and leading dimensions, A and C already
/// advanced to the first row. `slot` is the pool chunk running it (one
/// thread at a time), for per-thread state.
using MatrixGemm =
    std::function<void(int64_t slot, int64_t rows, const void *a, const void *b, void *c)>;

/// Whether `g` runs as whole matrices per thread on `threads` threads
/// (else the rows of each matrix are split over them).
bool wholeMatricesPerThread(const GemmCall &g, int threads);

/// Runs GEMM `g` on `pool`; A, B and C point at the buffers of g.a, g.b and
/// g.c (their element offsets not yet applied), whose elements are
/// `aBytes`, `bBytes` and `cBytes` wide.
void runThreadedGemm(const GemmCall &g, const void *a, const void *b, void *c, int64_t aBytes,
                     int64_t bBytes, int64_t cBytes, ThreadPool &pool, const MatrixGemm &gemm);

} // namespace kiln

#endif // KILN_RUNTIME_EXEC_THREADEDGEMM_H
