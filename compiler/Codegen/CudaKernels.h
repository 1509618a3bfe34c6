//===- CudaKernels.h - PTX for every kernel of a step ---------------*- C++ -*-===//
//
// The CUDA backend runs the same kernels as the CPU, from the same loop
// nests (KernelEmitter's module, before CPU lowering), lowered through the
// gpu dialect and NVVM to PTX with LLVM's NVPTX backend, one module per
// GPU architecture (sm_80, sm_90):
//
//   a kernel that computes one kiln.fusion (every op but GEMMs is in one:
//   kiln-single-op-regions) gets a block per row: each op's loops spread
//   over the block's threads, its folds (max, sum) block-wide
//   (gpu.all_reduce: warp shuffles and shared memory);
//   a multi-tensor kernel (the optimizer's updates, several regions' rows
//   end to end) runs its CPU body for rows [gid, gid + 1) on thread gid.
//
// A GPU kernel is `k(void **buffers, int64 rows, char *workspace)`: the
// buffers as on the CPU (a device array of device pointers), the thunk's
// row count, and rows × workspaceBytesPerRow bytes of global scratch for
// the row's local tensors (the CPU keeps those on the stack).
//
//===----------------------------------------------------------------------===//
#ifndef KILN_CODEGEN_CUDAKERNELS_H
#define KILN_CODEGEN_CUDAKERNELS_H

#include "compiler/Codegen/KernelLibrary.h"
#include "runtime/artifact/Program.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/OwningOpRef.h"
#include "mlir/Support/Timing.h"

#include <map>
#include <string>
#include <vector>

namespace kiln {

/// Every kernel of `kernelModule` as a gpu.func in the gpu.module
/// "kiln_kernels" of the returned container, with each kernel's launch in
/// `kernels[i].gpu` (emitPtx keys its PTX cache on this IR). Null with
/// `error`.
mlir::OwningOpRef<mlir::ModuleOp>
buildGpuKernels(mlir::ModuleOp kernelModule,
                const std::map<std::string, mlir::Operation *> &fusionKernels,
                std::vector<Kernel> &kernels, std::string &error);

/// The kernels of `container` (buildGpuKernels') as emitPtx lowers them to
/// NVVM: loops as branches, block-wide folds (gpu.all_reduce) as warp
/// shuffles, shared memory and barriers, math functions as polynomials.
/// GpuBlockEmulationTest runs this IR on the CPU under an emulation of
/// block execution. Timed under `timing`. False with `error`.
bool lowerGpuFolds(mlir::ModuleOp container, mlir::TimingScope &timing, std::string &error,
                   const PassManagerSetup &setupPassManager = {});

/// PTX for every kernel of `kernelModule` (KernelEmitter::module(); it is
/// not changed), per architecture ("sm_80" -> PTX text), and each kernel's
/// launch in `kernels[i].gpu`. `fusionKernels` names the kernels that
/// compute one kiln.fusion. Each architecture's PTX is kept in `cacheDir`
/// (unless empty) under a hash of its LLVM IR, so recompiling unchanged
/// kernels skips LLVM. With `lineInfo` the PTX has `.loc` lines (each op's
/// location; not cached). Stages are timed under `timing`. False with
/// `error`.
bool emitPtx(mlir::ModuleOp kernelModule,
             const std::map<std::string, mlir::Operation *> &fusionKernels,
             const std::vector<std::string> &archs, std::vector<Kernel> &kernels,
             const std::string &cacheDir, bool lineInfo, mlir::TimingScope &timing,
             std::map<std::string, std::string> &ptx, std::string &error,
             const PassManagerSetup &setupPassManager = {});

/// Per kernel `dump` wants and architecture: NAME.ARCH.ptx, the module's
/// declarations and that kernel's entry (it assembles alone), and where
/// CUDA's ptxas is installed NAME.ARCH.ptxas.txt, its report on the kernel
/// (registers, spill stores and loads, shared memory); ptxas.ARCH.txt has
/// the whole module's. `ptx` is emitPtx's. False with `error`.
bool dumpPtx(const std::map<std::string, std::string> &ptx, const KernelDumpRequest &dump,
             std::string &error);

} // namespace kiln

#endif // KILN_CODEGEN_CUDAKERNELS_H
