//===- KernelLineInfo.h - kernels' line tables from op locations -*- C++ -*-===//
//
// Kernel dumps carry line info: each LLVM function gets a debug
// subprogram, so that translation to LLVM IR keeps every op's location
// (a node in the JSON graph, inlined through its module calls) as !dbg,
// and the assembly and PTX get `.loc` lines.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_CODEGEN_KERNELLINEINFO_H
#define KILN_CODEGEN_KERNELLINEINFO_H

#include "mlir/IR/BuiltinOps.h"

namespace kiln {

/// Gives every defined llvm.func of `module` a DISubprogram in a compile
/// unit emitting directives only (.file/.loc, no debug sections).
void addKernelLineInfo(mlir::ModuleOp module);

} // namespace kiln

#endif // KILN_CODEGEN_KERNELLINEINFO_H
