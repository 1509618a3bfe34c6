//===- Build.h - import, run the phases, write the artifact ------*- C++ -*-===//
//
// kiln-compile's pieces: diagnostics that point into the JSON graph
// (the phases themselves: compiler/Pipeline/Phases.h).
//
//===----------------------------------------------------------------------===//
#ifndef KILN_TOOLS_BUILD_H
#define KILN_TOOLS_BUILD_H

#include "compiler/Pipeline/Phases.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Pass/PassManager.h"
#include "llvm/Support/SourceMgr.h"

#include <functional>

namespace kiln {

/// Prints "file:line:col: error: in node 'a.b.c': message" with the JSON
/// line under it, then a note at each module call that led there,
/// innermost first; the node path and the calls come from the location
/// the importer gave each op (KilnLocations.h).
class GraphDiagnostics {
public:
  explicit GraphDiagnostics(mlir::MLIRContext &context);

private:
  void emit(mlir::Diagnostic &d);
  llvm::SourceMgr sourceMgr;
  mlir::SourceMgrDiagnosticHandler printer;
  mlir::ScopedDiagnosticHandler handler;
};

/// `kiln-compile`'s main: the command line of `kiln compile`.
int compilerMain(int argc, char **argv);

} // namespace kiln

#endif // KILN_TOOLS_BUILD_H
