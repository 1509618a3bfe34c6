//===- Convolution.h - a conv thunk on the CPU ---------------------*- C++ -*-===//
#ifndef KILN_RUNTIME_EXEC_CONVOLUTION_H
#define KILN_RUNTIME_EXEC_CONVOLUTION_H

#include "runtime/artifact/Program.h"
#include "runtime/exec/Blas.h"
#include "runtime/exec/ThreadPool.h"

#include <vector>

namespace kiln {

/// Runs one pass of a convolution (ConvCall) over `pool`, images split
/// over the threads: im2col, then a GEMM per group against the weight
/// (col2im after it for the input's gradient). `input`, `weight` and
/// `result` are the call's buffers; `scratch` grows to what the threads'
/// column buffers and weight-gradient partials need and is kept.
void runConvolution(const ConvCall &call, float *input, float *weight, float *result,
                    const Blas &blas, ThreadPool &pool, std::vector<float> &scratch);

} // namespace kiln

#endif // KILN_RUNTIME_EXEC_CONVOLUTION_H
