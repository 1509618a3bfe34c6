//===- KernelLibrary.h - kernels to LLVM IR, object file, .so -----*- C++ -*-===//
//
// The kernel module (scf/arith/math/memref) goes to the LLVM dialect
// (math functions become polynomial approximations, so loops with exp or
// erf still vectorise), to LLVM IR, through LLVM's O3 pipeline for the
// chosen CPU, to an object file; the system compiler driver links it into
// the shared library the runtime dlopens.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_CODEGEN_KERNELLIBRARY_H
#define KILN_CODEGEN_KERNELLIBRARY_H

#include "runtime/artifact/Program.h"

#include "mlir/IR/BuiltinOps.h"

namespace llvm {
class Module;
class TargetMachine;
} // namespace llvm

#include <string>

namespace kiln {

/// The CPU the kernels are compiled for: an LLVM CPU name ("x86-64-v3", the
/// portable default) or "host" for this machine's CPU and features.
struct CpuTarget {
  std::string cpu = "x86-64-v3";
  std::string features; // filled for "host"
};

/// LLVM's O3 pipeline with `machine`'s cost model (vectorisation).
void optimizeAtO3(llvm::Module &module, llvm::TargetMachine &machine);

/// Resolves "host" to this machine's CPU name and features.
CpuTarget resolveCpu(const std::string &requested);

/// Writes `dir`/kernels.so from `kernels`. With `dumpDir`, also writes
/// each kernel's MLIR before lowering (NAME.mlir), in the LLVM dialect
/// (NAME.llvm.mlir) and as optimised LLVM IR (NAME.ll), and index.txt
/// naming each kernel's kiln op. Fails with a message in `error`.
bool buildKernelLibrary(mlir::ModuleOp kernels, const CpuTarget &target,
                        const std::string &dir, const std::string &dumpDir,
                        const std::vector<Kernel> &info, std::string &error);

} // namespace kiln

#endif // KILN_CODEGEN_KERNELLIBRARY_H
