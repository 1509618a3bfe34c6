//===- ArtifactWriter.h - write OUT.kiln from the final IR --------*- C++ -*-===//
//
// Plans the step (StepPlanner), builds the kernel library (KernelLibrary),
// computes the initial parameters and state from their init specs, and
// writes the artifact directory described in runtime/artifact/Manifest.h.
// Everything is written to a temporary directory first and renamed into
// place, so a failed compile leaves no partial artifact and an existing
// one untouched.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_ARTIFACT_ARTIFACTWRITER_H
#define KILN_ARTIFACT_ARTIFACTWRITER_H

#include "mlir/IR/BuiltinOps.h"

#include <string>

namespace kiln {

struct ArtifactOptions {
  std::string cpu;          // "" = the portable default, "host", or a CPU name
  std::string dumpKernelsTo; // per-kernel MLIR before/after lowering, LLVM IR
  std::string dumpPlanTo;    // the buffer plan as text
  bool cuda = false;          // also kernels.sm_80.ptx, kernels.sm_90.ptx
};

/// Writes the artifact for `module` (after the train-step phase) to `out`.
/// Errors are MLIR diagnostics (op locations) or, for files, `error`.
bool writeArtifact(mlir::ModuleOp module, const std::string &out,
                   const ArtifactOptions &options, std::string &error);

} // namespace kiln

#endif // KILN_ARTIFACT_ARTIFACTWRITER_H
