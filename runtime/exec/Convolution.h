//===- Convolution.h - conv thunks on the CPU ----------------------*- C++ -*-===//
#ifndef KILN_RUNTIME_EXEC_CONVOLUTION_H
#define KILN_RUNTIME_EXEC_CONVOLUTION_H

#include "runtime/artifact/Program.h"
#include "runtime/exec/Blas.h"
#include "runtime/exec/ThreadPool.h"
#ifdef KILN_HAVE_DNNL
#include "runtime/exec/DnnlConvolutions.h"
#endif

#include <vector>

namespace kiln {

/// Runs the passes of convolutions (ConvCall) over a pool, images split
/// over the threads: on oneDNN's primitives where they were measured
/// faster (DnnlConvolutions::suits, when kiln is built with oneDNN), else
/// im2col and a GEMM per group against the weight (col2im after it for the
/// input's gradient). Keeps its buffers and primitives between calls.
class CpuConvolutions {
public:
  /// One pass of `call`; `input`, `weight` and `result` are its buffers.
  void run(const ConvCall &call, float *input, float *weight, float *result, const Blas &blas,
           ThreadPool &pool);

private:
  // The threads' column buffers and weight-gradient partials.
  std::vector<float> scratch;
#ifdef KILN_HAVE_DNNL
  DnnlConvolutions onednn;
#endif
};

} // namespace kiln

#endif // KILN_RUNTIME_EXEC_CONVOLUTION_H
