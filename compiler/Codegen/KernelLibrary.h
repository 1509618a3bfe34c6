//===- KernelLibrary.h - kernels to LLVM IR, object file, .so -----*- C++ -*-===//
//
// The kernel module (scf/arith/math/memref) goes to the LLVM dialect
// (math functions become polynomial approximations, so loops with exp or
// erf still vectorise), to LLVM IR, through LLVM's O2 pipeline for the
// chosen CPU, to object files (KernelObjects.h); the system compiler
// driver links them into the shared library the runtime dlopens.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_CODEGEN_KERNELLIBRARY_H
#define KILN_CODEGEN_KERNELLIBRARY_H

#include "runtime/artifact/Program.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/Support/Timing.h"
#include "llvm/Passes/OptimizationLevel.h"

namespace llvm {
class Module;
class TargetMachine;
} // namespace llvm

namespace mlir {
class PassManager;
} // namespace mlir

#include <functional>
#include <map>
#include <memory>
#include <string>

namespace kiln {

/// The CPU the kernels are compiled for: an LLVM CPU name ("x86-64-v3", the
/// portable default) or "host" for this machine's CPU and features.
struct CpuTarget {
  std::string cpu = "x86-64-v3";
  std::string features; // filled for "host"
};

/// LLVM's pipeline at `level` with `machine`'s cost model (vectorisation).
/// CPU kernels take O2: it vectorises and unrolls them as O3 does (the
/// same step time) in about 60% of the compile time.
void optimize(llvm::Module &module, llvm::TargetMachine &machine, llvm::OptimizationLevel level);

/// The host triple's target machine for `target` (PIC, O3); null with
/// `error`.
std::unique_ptr<llvm::TargetMachine> cpuTargetMachine(const CpuTarget &target,
                                                      std::string &error);

/// Runs each(i) for i in [0, jobs) on up to one thread per core, each
/// thread taking the next job as it finishes one.
void forEachInParallel(size_t jobs, const std::function<void(size_t)> &each);

/// Resolves "host" to this machine's CPU name and features.
CpuTarget resolveCpu(const std::string &requested);

/// Whether `requested` (a --cpu value) names a CPU LLVM knows for the host
/// triple that runs 64-bit code; false with `error` saying which is not
/// so (LLVM itself would abort on either).
bool checkCpu(const std::string &requested, std::string &error);

/// Configures a pass manager of the back half before it runs (MLIR's
/// command-line options, in kiln compile); failure stops the compile.
using PassManagerSetup = std::function<mlir::LogicalResult(mlir::PassManager &)>;

/// Lowers the kernel module (scf/arith/math/memref/func) to the LLVM
/// dialect as the CPU build does: math as polynomials, bf16 conversions as
/// integer arithmetic, then everything to LLVM. Timed under `timing`. False
/// with `error`.
bool lowerKernelsToLLVMDialect(mlir::ModuleOp kernels, mlir::TimingScope &timing,
                               std::string &error,
                               const PassManagerSetup &setupPassManager = {});

/// Where kernel dumps go (`dir`; none if empty) and which: every kernel,
/// or only `kernel`'s files.
struct KernelDumpRequest {
  std::string dir, kernel;
  bool wanted(llvm::StringRef name) const {
    return !dir.empty() && (kernel.empty() || name == kernel);
  }
};

/// Writes `text` to `path`, or says why not in `error`.
bool writeTextFile(const std::string &path, llvm::StringRef text, std::string &error);

/// The step's kernel launches, its kernels (distinct bodies), and how
/// many of those came from the cache.
struct KernelStats {
  int64_t launches = 0, kernels = 0, cached = 0;
};

/// Writes `dir`/kernels.so from `kernels` (KernelObjects.h: in parallel,
/// objects kept in `cacheDir` unless empty, each under its kernel's key in
/// `bodyKeys`, KernelEmitter::bodyKeys; those found there are not lowered).
/// With `dump`, also writes each kernel's MLIR before lowering
/// (NAME.mlir), in the LLVM dialect (NAME.llvm.mlir), its LLVM IR before
/// and after optimisation (NAME.in.ll, NAME.ll) and assembly (NAME.s),
/// with line info (each op's location), and index.txt naming each kernel's
/// kiln op and the regions (thunks of `model`) that run it. Each stage is
/// timed under `timing` (--mlir-timing). Fails with a message in `error`.
bool buildKernelLibrary(mlir::ModuleOp kernels, const CpuTarget &target,
                        const std::string &dir, const KernelDumpRequest &dump,
                        const std::string &cacheDir, const CompiledModel &model,
                        const std::map<std::string, std::string> &bodyKeys, KernelStats &stats,
                        mlir::TimingScope &timing, std::string &error,
                        const PassManagerSetup &setupPassManager = {});

} // namespace kiln

#endif // KILN_CODEGEN_KERNELLIBRARY_H
