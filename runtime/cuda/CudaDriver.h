//===- CudaDriver.h - the CUDA driver API, loaded at run time ------*- C++ -*-===//
//
// The few driver API calls kiln makes (loading PTX, launching its
// kernels), looked up in libcuda.so.1 when a GPU is first used rather than
// linked: the toolkit's libraries are present on machines without a GPU
// driver, and kiln must start there.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_RUNTIME_CUDA_CUDADRIVER_H
#define KILN_RUNTIME_CUDA_CUDADRIVER_H

#include <cuda.h>

#include <string>

namespace kiln {

struct CudaDriver {
  decltype(&::cuModuleLoadDataEx) moduleLoadDataEx = nullptr;
  decltype(&::cuModuleGetFunction) moduleGetFunction = nullptr;
  decltype(&::cuModuleUnload) moduleUnload = nullptr;
  decltype(&::cuLaunchKernel) launchKernel = nullptr;
  decltype(&::cuGetErrorString) getErrorString = nullptr;

  /// The driver, or null with `error` (no libcuda.so.1: no GPU driver).
  static const CudaDriver *get(std::string &error);
};

/// "CUDA_ERROR_ILLEGAL_ADDRESS: an illegal memory access was encountered".
std::string driverErrorString(CUresult r);

} // namespace kiln

#endif // KILN_RUNTIME_CUDA_CUDADRIVER_H
