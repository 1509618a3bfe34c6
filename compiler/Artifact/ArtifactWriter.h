//===- ArtifactWriter.h - write OUT.kiln from the final IR --------*- C++ -*-===//
//
// The back half of the pipeline, after the IR phases, as phases of its own
// (listed with the others in compiler/Pipeline/Phases.cpp):
//   thunks       every value a buffer, every op a thunk (StepPlanner.cpp)
//   buffer-plan  in-place updates, the arena (BufferPlan.cpp)
//   kernels      each kernel's body (FusionKernel.cpp), kernels.so
//                (KernelLibrary.cpp) and, for CUDA, PTX (CudaKernels.cpp)
//   artifact     initial parameters and state from their init specs, and
//                the directory described in runtime/artifact/Manifest.h
// Everything is written to a temporary directory first and renamed into
// place, so a failed compile leaves no partial artifact and an existing
// one untouched.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_ARTIFACT_ARTIFACTWRITER_H
#define KILN_ARTIFACT_ARTIFACTWRITER_H

#include "compiler/Codegen/KernelLibrary.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/Support/Timing.h"

#include <functional>
#include <string>

namespace kiln {

struct ArtifactOptions {
  std::string cpu;           // "" = the portable default, "host", or a CPU name
  std::string dumpKernelsTo; // per-kernel MLIR before/after lowering, LLVM IR
  bool cuda = false;         // also kernels.sm_80.ptx, kernels.sm_90.ptx
  std::string kernelCache;   // compiled kernels kept between compiles ("" = none)
  KernelStats *kernelStats = nullptr; // filled when given
  /// The last phase to run: "thunks", "buffer-plan", "kernels" or
  /// "artifact" (the default: the whole artifact at `out`).
  std::string last = "artifact";
  /// Called after each phase before "artifact" with what prints its text
  /// (called only if the text is wanted): the thunks, the buffer plan, the
  /// kernels before lowering (MLIR). False stops.
  std::function<bool(const std::string &phase, const std::function<std::string()> &text)>
      afterPhase;
  /// Whether the "kernels" phase's text (the kernel module) is wanted.
  bool printKernels = false;
  /// Where the back half's stages are timed (--mlir-timing); null: not.
  mlir::TimingScope *timing = nullptr;
  /// Gives the kernel lowerings' pass managers MLIR's command-line options
  /// (kiln compile's --mlir-print-ir-*); unset: none.
  PassManagerSetup setupPassManager;
  /// Only this kernel's dumps (a kernel's or a region's name); "": all.
  std::string dumpKernel;
  /// The same step through the last IR phase without recomputation: its
  /// programs' arenas are planned too and recorded beside the real ones.
  mlir::ModuleOp withoutRecompute;
  /// The manifest's training_key (kiln compile's; "": none).
  std::string trainingKey;
};

/// Runs the back half on `module` (after the last IR phase) and, unless
/// `options.last` stops earlier, writes the artifact to `out`. Errors are
/// MLIR diagnostics (op locations) or, for files, `error`.
bool writeArtifact(mlir::ModuleOp module, const std::string &out,
                   const ArtifactOptions &options, std::string &error);

} // namespace kiln

#endif // KILN_ARTIFACT_ARTIFACTWRITER_H
