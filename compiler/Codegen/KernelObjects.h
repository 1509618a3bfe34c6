//===- KernelObjects.h - kernels to object files, in parallel, cached -*- C++ -*-===//
//
// Each kernel of the LLVM module becomes an object file of its own: they
// are optimised and compiled on all cores. An object is named by a hash of
// the kernel's MLIR body (KernelEmitter::bodyKey), the target, LLVM and
// the compiler binary (kiln_<hash>), so it is also cached across compiles
// under ~/.cache/kiln/kernels, found there before anything is lowered:
// recompiling an unchanged graph lowers and compiles nothing.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_CODEGEN_KERNELOBJECTS_H
#define KILN_CODEGEN_KERNELOBJECTS_H

#include "compiler/Codegen/KernelLibrary.h"

#include <map>
#include <string>
#include <utility>
#include <vector>

namespace llvm {
class Module;
class StringRef;
} // namespace llvm

namespace kiln {

/// Where compiled kernels are kept between compiles: $KILN_CACHE_DIR, else
/// $XDG_CACHE_HOME/kiln/kernels, else ~/.cache/kiln/kernels.
std::string defaultKernelCache();

/// 32 hex digits of the SHA-256 of `text`: the name under which what was
/// compiled from it is cached.
std::string contentKey(llvm::StringRef text);

/// What changes compiled code besides its MLIR: LLVM's version and this
/// compiler binary (its size and time), so a rebuilt kiln never takes
/// objects an older one made.
std::string compilerIdentity();

/// Writes `bytes` to `path` in the cache through a temporary file and a
/// rename, so that a concurrent compile never reads half a file; a failure
/// only means the next compile is not faster.
void storeInCache(const std::string &path, llvm::StringRef bytes);

/// The symbol, and object file name, of a kernel with body key `bodyKey`
/// compiled for `target`: kiln_<hash>.
std::string kernelSymbol(const std::string &bodyKey, const CpuTarget &target);

/// A kernel's module as LLVM IR before and after optimisation, and its
/// assembly (kiln compile --dump-kernels-to).
struct KernelDumps {
  std::string unoptimizedIR, optimizedIR, assembly;
};

/// Compiles every defined function of `module` (each carrying its target
/// attributes) into `outDir`/SYMBOL.o, SYMBOL from `symbolOf` (kernel name
/// -> symbol), and into `cacheDir` unless empty. With `dumps`, keeps each
/// one's KernelDumps by symbol. Timed under `timing`. False with `error`.
bool compileKernelObjects(const llvm::Module &module, const CpuTarget &target,
                          const std::map<std::string, std::string> &symbolOf,
                          const std::string &outDir, const std::string &cacheDir,
                          std::map<std::string, KernelDumps> *dumps, mlir::TimingScope &timing,
                          std::string &error);

} // namespace kiln

#endif // KILN_CODEGEN_KERNELOBJECTS_H
