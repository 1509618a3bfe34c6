//===- CudnnConvolutions.h - conv thunks on cuDNN ------------------*- C++ -*-===//
#ifndef KILN_RUNTIME_CUDA_CUDNNCONVOLUTIONS_H
#define KILN_RUNTIME_CUDA_CUDNNCONVOLUTIONS_H

#include "runtime/artifact/Program.h"

#include <cuda_runtime.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

namespace kiln {

/// Every convolution of an artifact's programs on cuDNN: per distinct
/// (pass, geometry, dtype) its descriptors and an algorithm chosen when the
/// artifact is loaded (cuDNN's heuristics, the first deterministic one;
/// FP32 without TF32, bf16/f16 on the tensor cores with f32
/// accumulation), and one workspace for the largest.
class CudnnConvolutions {
public:
  /// Null with `error` when a convolution cannot run here (asymmetric
  /// padding, no algorithm, or a kiln built without cuDNN).
  static std::unique_ptr<CudnnConvolutions> open(const CompiledModel &m, cudaStream_t stream,
                                                 std::string &error);
  ~CudnnConvolutions();

  /// Enqueues one pass on the stream; an error message, or empty.
  std::string run(const CompiledModel &m, const ConvCall &call, void *input, void *weight,
                  void *result);
  /// "cuDNN 91900, 3 convolution plans, 12 MiB workspace".
  std::string description() const;

private:
  struct Plan;
  std::map<std::vector<int64_t>, std::unique_ptr<Plan>> plans;
  void *handle = nullptr; // cudnnHandle_t
  void *workspace = nullptr;
  size_t workspaceBytes = 0;
};

} // namespace kiln

#endif // KILN_RUNTIME_CUDA_CUDNNCONVOLUTIONS_H
