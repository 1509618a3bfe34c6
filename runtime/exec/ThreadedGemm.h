//===- ThreadedGemm.h - a Gemm thunk over the CPU threads -------*- C++ -*-===//
//
// The GEMM library runs single-threaded; the executor spreads each Gemm
// thunk (C[b] = op(A[b])·op(B[b]) over any batch dims) over its threads
// itself: whole matrices per thread when there are at least as many as
// threads or each is short (attention: many small GEMMs), else the rows of
// each matrix split over the threads.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_RUNTIME_EXEC_THREADEDGEMM_H
#define KILN_RUNTIME_EXEC_THREADEDGEMM_H

#include "runtime/artifact/Program.h"
#include "runtime/exec/Blas.h"
#include "runtime/exec/ThreadPool.h"

namespace kiln {

/// Runs GEMM `g` on `pool`; A, B and C point at the buffers of g.a,
/// g.b and g.c, their element offsets included.
void runThreadedGemm(const GemmCall &g, const float *a, const float *b, float *c,
                     const Blas &blas, ThreadPool &pool);

} // namespace kiln

#endif // KILN_RUNTIME_EXEC_THREADEDGEMM_H
