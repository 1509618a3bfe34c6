//===- Convolution.h - conv thunks on the CPU ----------------------*- C++ -*-===//
#ifndef KILN_RUNTIME_EXEC_CONVOLUTION_H
#define KILN_RUNTIME_EXEC_CONVOLUTION_H

#include "runtime/artifact/Program.h"
#include "runtime/exec/Blas.h"
#include "runtime/exec/ThreadPool.h"
#ifdef KILN_HAVE_DNNL
#include "runtime/exec/DnnlConvolutions.h"
#endif

#include <array>
#include <vector>

namespace kiln {

/// Runs the passes of convolutions (ConvCall) over a pool, images split
/// over the threads: on oneDNN's primitives where they were measured
/// faster (DnnlConvolutions::suits, when kiln is built with oneDNN), else
/// im2col and a GEMM per group against the weight (col2im after it for the
/// input's gradient). Keeps its buffers and primitives between calls.
class CpuConvolutions {
public:
  /// One pass of `call`; `input`, `weight` and `result` are its buffers,
  /// of element types `dtypes` (in that order). bf16 runs on oneDNN's bf16
  /// kernels where it suits and the CPU has them (f32 accumulation);
  /// otherwise bf16 and f16 tensors are widened to f32, convolved as f32
  /// and the result rounded: the same numbers, not the speed.
  void run(const ConvCall &call, const std::array<DType, 3> &dtypes, void *input, void *weight,
           void *result, const Blas &blas, ThreadPool &pool);

private:
  void runF32(const ConvCall &call, float *input, float *weight, float *result, const Blas &blas,
              ThreadPool &pool);

  // The threads' column buffers and weight-gradient partials.
  std::vector<float> scratch;
  // The widened input, weight and result of a low-precision pass.
  std::array<std::vector<float>, 3> widened;
#ifdef KILN_HAVE_DNNL
  DnnlConvolutions onednn;
#endif
};

} // namespace kiln

#endif // KILN_RUNTIME_EXEC_CONVOLUTION_H
