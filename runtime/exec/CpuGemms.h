//===- CpuGemms.h - Gemm thunks on the CPU ------------------------*- C++ -*-===//
//
// f32 GEMMs on oneDNN's matmul when kiln is built with it (single
// products, and many small ones against a transposed B), else, and for the
// other batched ones, on OpenBLAS's sgemm; bf16 ones (kiln-assign-precision)
// on oneDNN's matmul when kiln is built with it; f16 ones, and bf16 without
// oneDNN, widen their operands to f32, multiply with sgemm and round the
// result (the CPU has no f16 GEMM to call; the loss-scaling logic of fp16
// steps is what runs on the CPU). Every path accumulates in f32.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_RUNTIME_EXEC_CPUGEMMS_H
#define KILN_RUNTIME_EXEC_CPUGEMMS_H

#include "runtime/artifact/Program.h"
#include "runtime/exec/Blas.h"
#include "runtime/exec/ThreadPool.h"
#ifdef KILN_HAVE_DNNL
#include "runtime/exec/DnnlMatmul.h"
#endif

#include <vector>

namespace kiln {

class CpuGemms {
public:
  /// Runs `g`, whose A and B hold `operands` elements and C `result` ones;
  /// a, b and c are the buffers (the call's offsets not yet applied).
  void run(const GemmCall &g, DType operands, DType result, const void *a, const void *b,
           void *c, const Blas &blas, ThreadPool &pool);

private:
#ifdef KILN_HAVE_DNNL
  /// Batched products up to this many multiply-adds with B transposed go to
  /// oneDNN in f32 too (CpuGemms::run says why).
  static constexpr int64_t kSmallProduct = 50 * 50 * 16;
  /// `g`'s products as one oneDNN call per thread (its share of the batch),
  /// when the batch splits into whole matrices with flat strides; false
  /// (nothing run) otherwise.
  bool runBatchedOnednn(const GemmCall &g, DType operands, DType result, const void *a,
                        const void *b, void *c, ThreadPool &pool);
  /// `g` on oneDNN, one call per matrix and thread (runThreadedGemm's split).
  void runRowsOnednn(const GemmCall &g, DType operands, DType result, const void *a,
                     const void *b, void *c, ThreadPool &pool);
#endif
  // Per pool slot: the widened operands and result of the f32 fallback.
  std::vector<std::vector<float>> scratch;
#ifdef KILN_HAVE_DNNL
  DnnlMatmul onednn;
#endif
};

} // namespace kiln

#endif // KILN_RUNTIME_EXEC_CPUGEMMS_H
