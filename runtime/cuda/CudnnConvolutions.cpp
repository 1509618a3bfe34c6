//===- CudnnConvolutions.cpp - conv thunks on cuDNN -----------------------===//
//
// The legacy convolution API of cuDNN 9 (still whole in cudnn_cnn): one
// tensor, filter and convolution descriptor set per distinct convolution,
// an algorithm per pass from cudnnGet*Algorithm_v7. kiln asks for
// deterministic algorithms so that a step on the GPU repeats bit for bit,
// and for CUDNN_FMA_MATH so that no TF32 rounding differs from the CPU's.
//
//===----------------------------------------------------------------------===//
#include "runtime/cuda/CudnnConvolutions.h"

#include <cudnn.h>

#include <algorithm>

namespace kiln {

struct CudnnConvolutions::Plan {
  cudnnTensorDescriptor_t input = nullptr, result = nullptr;
  cudnnFilterDescriptor_t weight = nullptr;
  cudnnConvolutionDescriptor_t conv = nullptr;
  ConvCall::Pass pass = ConvCall::Forward;
  int algo = 0;
  size_t workspace = 0;
  ~Plan() {
    if (input)
      cudnnDestroyTensorDescriptor(input);
    if (result)
      cudnnDestroyTensorDescriptor(result);
    if (weight)
      cudnnDestroyFilterDescriptor(weight);
    if (conv)
      cudnnDestroyConvolutionDescriptor(conv);
  }
};

namespace {

/// The convolution's element type: its input's (kiln-assign-precision
/// gives all three tensors of a convolution one type).
DType dtypeOf(const CompiledModel &m, const ConvCall &c) { return m.buffers[c.input].dtype; }

std::vector<int64_t> keyOf(const CompiledModel &m, const ConvCall &c) {
  std::vector<int64_t> key = c.geometry.key();
  key.insert(key.end(), {c.pass, static_cast<int64_t>(dtypeOf(m, c))});
  return key;
}

cudnnDataType_t cudnnType(DType d) {
  return d == DType::BF16 ? CUDNN_DATA_BFLOAT16 : d == DType::F16 ? CUDNN_DATA_HALF : CUDNN_DATA_FLOAT;
}

/// The first deterministic algorithm of a heuristics list that ran, with
/// its workspace; false if there is none.
template <typename Perf> bool choose(const Perf *perf, int count, int &algo, size_t &workspace) {
  for (int i = 0; i < count; ++i)
    if (perf[i].status == CUDNN_STATUS_SUCCESS && perf[i].determinism == CUDNN_DETERMINISTIC) {
      algo = perf[i].algo;
      workspace = perf[i].memory;
      return true;
    }
  return false;
}

} // namespace

std::unique_ptr<CudnnConvolutions> CudnnConvolutions::open(const CompiledModel &m,
                                                           cudaStream_t stream,
                                                           std::string &error) {
  auto out = std::unique_ptr<CudnnConvolutions>(new CudnnConvolutions());
  cudnnHandle_t handle;
  if (cudnnCreate(&handle) != CUDNN_STATUS_SUCCESS || cudnnSetStream(handle, stream)) {
    error = "cannot start cuDNN";
    return nullptr;
  }
  out->handle = handle;
  for (const Program &p : m.programs)
    for (size_t i = 0; i < p.thunks.size(); ++i) {
      const ConvCall *call = p.thunks[i].as<ConvCall>();
      if (!call || out->plans.count(keyOf(m, *call)))
        continue;
      const ConvGeometry &g = call->geometry;
      std::string where = "thunk " + std::to_string(i) + " of " + p.entry + " (conv " +
                          (p.thunks[i].ops.empty() ? "" : p.thunks[i].ops[0]) + ")";
      if (g.pad[0] != g.pad[2] || g.pad[1] != g.pad[3]) {
        error = where + ": cuDNN pads both sides alike; this convolution pads top " +
                std::to_string(g.pad[0]) + ", left " + std::to_string(g.pad[1]) + ", bottom " +
                std::to_string(g.pad[2]) + ", right " + std::to_string(g.pad[3]);
        return nullptr;
      }
      auto plan = std::make_unique<Plan>();
      plan->pass = call->pass;
      // bf16/f16 data accumulate in f32 and need the tensor cores; f32
      // stays on FMA (no TF32).
      DType dtype = dtypeOf(m, *call);
      cudnnDataType_t data = cudnnType(dtype);
      bool ok =
          !cudnnCreateTensorDescriptor(&plan->input) &&
          !cudnnCreateTensorDescriptor(&plan->result) &&
          !cudnnCreateFilterDescriptor(&plan->weight) &&
          !cudnnCreateConvolutionDescriptor(&plan->conv) &&
          !cudnnSetTensor4dDescriptor(plan->input, CUDNN_TENSOR_NCHW, data, g.n, g.c, g.h, g.w) &&
          !cudnnSetTensor4dDescriptor(plan->result, CUDNN_TENSOR_NCHW, data, g.n, g.o, g.ho,
                                      g.wo) &&
          !cudnnSetFilter4dDescriptor(plan->weight, data, CUDNN_TENSOR_NCHW, g.o, g.c / g.groups,
                                      g.kh, g.kw) &&
          !cudnnSetConvolution2dDescriptor(plan->conv, g.pad[0], g.pad[1], g.stride[0],
                                           g.stride[1], g.dilation[0], g.dilation[1],
                                           CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT) &&
          !cudnnSetConvolutionGroupCount(plan->conv, g.groups) &&
          !cudnnSetConvolutionMathType(plan->conv, dtype == DType::F32 ? CUDNN_FMA_MATH
                                                                       : CUDNN_TENSOR_OP_MATH);
      int count = 0;
      constexpr int kMost = 16;
      if (ok && call->pass == ConvCall::Forward) {
        cudnnConvolutionFwdAlgoPerf_t perf[kMost];
        ok = !cudnnGetConvolutionForwardAlgorithm_v7(handle, plan->input, plan->weight, plan->conv,
                                                     plan->result, kMost, &count, perf) &&
             choose(perf, count, plan->algo, plan->workspace);
      } else if (ok && call->pass == ConvCall::InputGrad) {
        cudnnConvolutionBwdDataAlgoPerf_t perf[kMost];
        ok = !cudnnGetConvolutionBackwardDataAlgorithm_v7(handle, plan->weight, plan->result,
                                                          plan->conv, plan->input, kMost, &count,
                                                          perf) &&
             choose(perf, count, plan->algo, plan->workspace);
      } else if (ok) {
        cudnnConvolutionBwdFilterAlgoPerf_t perf[kMost];
        ok = !cudnnGetConvolutionBackwardFilterAlgorithm_v7(handle, plan->input, plan->result,
                                                            plan->conv, plan->weight, kMost,
                                                            &count, perf) &&
             choose(perf, count, plan->algo, plan->workspace);
      }
      if (!ok) {
        error = where + ": cuDNN has no deterministic " + dtypeName(dtype) + " algorithm for it";
        return nullptr;
      }
      out->workspaceBytes = std::max(out->workspaceBytes, plan->workspace);
      out->plans[keyOf(m, *call)] = std::move(plan);
    }
  if (out->workspaceBytes && cudaMalloc(&out->workspace, out->workspaceBytes) != cudaSuccess) {
    error = "cannot allocate cuDNN's workspace of " + std::to_string(out->workspaceBytes >> 20) +
            " MiB";
    return nullptr;
  }
  return out;
}

CudnnConvolutions::~CudnnConvolutions() {
  plans.clear();
  if (workspace)
    cudaFree(workspace);
  if (handle)
    cudnnDestroy(static_cast<cudnnHandle_t>(handle));
}

std::string CudnnConvolutions::run(const CompiledModel &m, const ConvCall &call, void *input,
                                   void *weight, void *result) {
  const Plan &p = *plans.at(keyOf(m, call));
  auto handle = static_cast<cudnnHandle_t>(this->handle);
  const float one = 1.0f, zero = 0.0f;
  cudnnStatus_t s;
  switch (call.pass) {
  case ConvCall::Forward:
    s = cudnnConvolutionForward(handle, &one, p.input, input, p.weight, weight, p.conv,
                                cudnnConvolutionFwdAlgo_t(p.algo), workspace, workspaceBytes,
                                &zero, p.result, result);
    break;
  case ConvCall::InputGrad:
    s = cudnnConvolutionBackwardData(handle, &one, p.weight, weight, p.result, result, p.conv,
                                     cudnnConvolutionBwdDataAlgo_t(p.algo), workspace,
                                     workspaceBytes, &zero, p.input, input);
    break;
  case ConvCall::WeightGrad:
    s = cudnnConvolutionBackwardFilter(handle, &one, p.input, input, p.result, result, p.conv,
                                       cudnnConvolutionBwdFilterAlgo_t(p.algo), workspace,
                                       workspaceBytes, &zero, p.weight, weight);
    break;
  }
  return s == CUDNN_STATUS_SUCCESS ? "" : std::string("cuDNN: ") + cudnnGetErrorString(s);
}

std::string CudnnConvolutions::description() const {
  return "cuDNN " + std::to_string(cudnnGetVersion()) + ", " + std::to_string(plans.size()) +
         " convolution plans, " + std::to_string(workspaceBytes >> 20) + " MiB workspace";
}

} // namespace kiln
