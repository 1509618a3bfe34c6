//===- Build.h - import, run the phases, write the artifact ------*- C++ -*-===//
//
// Shared by `kiln compile` and `kiln train MODEL.json`: diagnostics that
// point into the JSON graph, the phase loop, and the artifact.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_TOOLS_BUILD_H
#define KILN_TOOLS_BUILD_H

#include "compiler/Artifact/ArtifactWriter.h"
#include "compiler/Pipeline/Phases.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Pass/PassManager.h"
#include "llvm/Support/SourceMgr.h"

#include <functional>
#include <optional>

namespace kiln {

/// Prints "file:line:col: error: in node 'a.b.c': message" with the JSON
/// line under it; the node path comes from the NameLoc the importer gave
/// each op.
class GraphDiagnostics {
public:
  explicit GraphDiagnostics(mlir::MLIRContext &context);

private:
  void emit(mlir::Diagnostic &d);
  llvm::SourceMgr sourceMgr;
  mlir::SourceMgrDiagnosticHandler printer;
  mlir::ScopedDiagnosticHandler handler;
};

/// Runs the phases on `module` up to and including `last`, calling
/// `afterPhase` after each (for dumps). False when a phase fails;
/// `configure` may add MLIR's command-line options to each pass manager.
bool runPhases(mlir::ModuleOp module, const Phase *last,
               const std::function<bool(const Phase &, unsigned)> &afterPhase,
               const std::function<bool(mlir::PassManager &)> &configure = {});

/// Whether an output path names an artifact directory (ends in ".kiln").
bool isArtifactPath(const std::string &path);

struct BuildRequest {
  std::string model;    // MODEL.json
  std::string artifact; // OUT.kiln
  std::optional<int64_t> batchSize; // the global batch
  int64_t ranks = 1;                 // it is split over
  ArtifactOptions artifactOptions;
};

/// The whole compile of `kiln train MODEL.json`: 0, or 1 after printing
/// the error.
int buildArtifact(const BuildRequest &request);

} // namespace kiln

#endif // KILN_TOOLS_BUILD_H
