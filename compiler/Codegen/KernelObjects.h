//===- KernelObjects.h - kernels to object files, in parallel, cached -*- C++ -*-===//
//
// Each kernel of the LLVM module becomes an object file of its own: they
// are optimised and compiled on all cores, and a kernel is compiled once
// per distinct body (every block of a deep ViT has the same kernels under
// other names). An object is named by a hash of its IR, target and LLVM
// version (kiln_<hash>), so it is also cached across compiles under
// ~/.cache/kiln/kernels: recompiling an unchanged graph compiles nothing.
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

struct KernelObjects {
  std::vector<std::string> objects;                         // in the output folder
  std::vector<std::pair<std::string, std::string>> symbols; // kernel name -> kiln_<hash>
  int64_t kernels = 0, distinct = 0, cached = 0;
  /// Each distinct kernel's optimised LLVM IR by symbol (when asked for).
  std::map<std::string, std::string> optimizedIR;
};

/// Where compiled kernels are kept between compiles: $KILN_CACHE_DIR, else
/// $XDG_CACHE_HOME/kiln/kernels, else ~/.cache/kiln/kernels.
std::string defaultKernelCache();

/// 32 hex digits of the SHA-256 of `text`: the name under which what was
/// compiled from it is cached.
std::string contentKey(llvm::StringRef text);

/// Writes `bytes` to `path` in the cache through a temporary file and a
/// rename, so that a concurrent compile never reads half a file; a failure
/// only means the next compile is not faster.
void storeInCache(const std::string &path, llvm::StringRef bytes);

/// Compiles every defined function of `module` (each carrying its target
/// attributes) into `outDir`, reusing and filling `cacheDir` (empty: no
/// cache). With `keepIR`, fills optimizedIR (and compiles what the cache
/// has, to print it). Its two stages are timed under `timing`. False with
/// `error`.
bool compileKernelObjects(const llvm::Module &module, const CpuTarget &target,
                          const std::string &outDir, const std::string &cacheDir, bool keepIR,
                          KernelObjects &out, mlir::TimingScope &timing, std::string &error);

} // namespace kiln

#endif // KILN_CODEGEN_KERNELOBJECTS_H
