//===- FusionKernel.h - one kernel for a kiln.fusion region -------*- C++ -*-===//
//
// The kernel's outer loop walks the region's parallel axis (rows, split
// across threads); for one row, every op of the region runs on the row's
// *local* tensors: the value with its parallel axis removed. Inputs are
// read in place through strides; views (broadcast, reshape, transpose,
// slice, split) only change strides; every computing op writes a small
// scratch tensor that stays in cache, or its output when the region yields
// it. Every loop kernel of a step is one of these (an unfused op is a
// region of its own), on the CPU and, through CudaKernels, on the GPU.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_CODEGEN_FUSIONKERNEL_H
#define KILN_CODEGEN_FUSIONKERNEL_H

#include "compiler/Codegen/KernelEmitter.h"

#include "Kiln/IR/KilnOps.h"

namespace kiln {

/// The one op a region holds besides the scalar constants it reads (an op
/// kiln-fuse left alone), or null for a region of several.
mlir::Operation *soleOp(FusionOp fusion);

/// The name of the thunk (and kernel) computing `regions`: the region's
/// own (kiln-name-regions), or for a multi-tensor kernel its first
/// region's, "_and_N_more".
std::string kernelThunkName(llvm::ArrayRef<FusionOp> regions);

/// Emits the kernel of `fusion`, named kernelThunkName({fusion}) unless an
/// identical kernel exists. `args` are its buffers: the inputs, then
/// the results, in order. Returns the kernel name; `rows` gets the row
/// count. Fails with an error on an op the fused codegen cannot handle.
llvm::FailureOr<std::string> emitFusionKernel(FusionOp fusion, KernelEmitter &emitter,
                                              llvm::ArrayRef<KernelArg> args, int64_t &rows);

/// Text equal for two regions exactly when their fused bodies are the same
/// code (the same ops on the same types, rows, and results written in
/// place alike), whatever buffers they are given.
std::string fusedBodyKey(FusionOp fusion);

/// One kernel for several independent regions (the optimizer's and the
/// EMA's per-parameter updates): their rows laid end to end, so that the
/// runtime splits all of them across threads in one launch. Region i reads
/// and writes args[argOffsets[i] ..]; `rows` gets the total. Adjacent
/// regions with the same body and argument sizes (every block's qkv
/// weight, say) share one loop that picks each one's buffers by its row,
/// so the kernel grows with the kinds of update, not with the depth.
llvm::FailureOr<std::string> emitMultiTensorKernel(llvm::ArrayRef<FusionOp> fusions,
                                                   llvm::ArrayRef<size_t> argOffsets,
                                                   KernelEmitter &emitter,
                                                   llvm::ArrayRef<KernelArg> args, int64_t &rows);

} // namespace kiln

#endif // KILN_CODEGEN_FUSIONKERNEL_H
