//===- KernelJit.h - kernels in the LLVM dialect run in the test process -*- C++ -*-===//
//
// Tests that run generated code directly (the block emulator's kernels,
// the math approximations) translate a module in the LLVM dialect to LLVM
// IR and compile it with ORC's LLJIT for this CPU.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_TESTS_KERNELJIT_H
#define KILN_TESTS_KERNELJIT_H

#include "mlir/IR/BuiltinOps.h"

#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace llvm::orc {
class LLJIT;
} // namespace llvm::orc

namespace kiln::test {

/// A function the JIT-compiled code may call, by name.
using JitSymbol = std::pair<const char *, void *>;

/// A module in the LLVM dialect compiled for this CPU, its external calls
/// resolved against `symbols` and this process (libm).
class KernelJit {
public:
  static std::unique_ptr<KernelJit> create(mlir::ModuleOp llvmDialect,
                                           const std::vector<JitSymbol> &symbols,
                                           std::string &error);
  ~KernelJit();
  /// The address of function `name`, or null.
  void *lookup(const std::string &name);

private:
  std::unique_ptr<llvm::orc::LLJIT> jit;
};

} // namespace kiln::test

#endif // KILN_TESTS_KERNELJIT_H
