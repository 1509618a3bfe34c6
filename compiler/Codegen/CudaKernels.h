//===- CudaKernels.h - PTX for the fused regions -------------------*- C++ -*-===//
//
// The same kiln.fusion regions the CPU runs, lowered for NVIDIA GPUs:
// one thread block per row of the parallel axis; each op's loops spread
// over the block's threads, its folds (max, sum, ...) as block-wide
// reductions (gpu.all_reduce: warp shuffles and shared memory), the row's
// local tensors in a global workspace (rows × slab bytes, cached in L2).
// gpu dialect -> NVVM -> LLVM IR -> PTX through LLVM's NVPTX backend, one
// module per GPU architecture (sm_80, sm_90). Launch: grid = rows, any
// block size; arguments: every buffer (inputs, then results), then the
// workspace.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_CODEGEN_CUDAKERNELS_H
#define KILN_CODEGEN_CUDAKERNELS_H

#include "mlir/IR/BuiltinOps.h"

#include <map>
#include <string>
#include <vector>

namespace kiln {

struct PtxKernel {
  std::string name;
  int64_t rows = 1;
  int64_t workspaceBytesPerRow = 0;
};

/// PTX for every kiln.fusion of `module`, per architecture ("sm_80" ->
/// PTX text). False with `error` set.
bool emitPtx(mlir::ModuleOp module, const std::vector<std::string> &archs,
             std::map<std::string, std::string> &ptx, std::vector<PtxKernel> &kernels,
             std::string &error);

} // namespace kiln

#endif // KILN_CODEGEN_CUDAKERNELS_H
