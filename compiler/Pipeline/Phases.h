//===- Phases.h - the compile pipeline as named phases -----------*- C++ -*-===//
//
// `kiln compile --compile-to=PHASE` stops after PHASE; `--dump-phases-to=DIR`
// writes the IR after each phase as DIR/NN-PHASE.mlir. Phases run in the
// order of kilnPhases(); each adds its passes to its own pass manager.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_PIPELINE_PHASES_H
#define KILN_PIPELINE_PHASES_H

#include "runtime/artifact/Defaults.h"

#include "mlir/IR/BuiltinOps.h"
#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/StringRef.h"

#include <cstdint>
#include <functional>
#include <string>

namespace mlir {
class OpPassManager;
class PassManager;
} // namespace mlir

namespace kiln {

/// Choices the command line makes for the whole pipeline.
struct PipelineOptions {
  bool fusion = true;         // kiln-fuse in the "fuse" phase
  bool explainFusion = false; // a remark for every refused fusion
  int64_t bucketSize = kDefaultBucketBytes;           // kiln-insert-all-reduce's
  int64_t firstBucketSize = kDefaultFirstBucketBytes; // bucket sizes
  std::string precision;      // kiln-assign-precision's; empty: the graph's
  std::string recompute;      // kiln-recompute's mode; empty: the graph's
  std::string allReducePrecision; // kiln-compress-all-reduce's; empty: the graph's
  bool shardOptimizer = false; // kiln-shard-optimizer over kiln.ranks
  int64_t recomputeMinBytes = 64 << 10; // its smallest value (the differential checker: 0)
};

struct Phase {
  const char *name;
  const char *description;
  /// Adds this phase's passes (none for "import": the importer is the
  /// phase). Null for the back half's phases, which run on the planned
  /// step rather than on IR (compiler/Artifact/ArtifactWriter.h).
  void (*addPasses)(mlir::OpPassManager &pm, const PipelineOptions &options);
  bool onIR() const { return addPasses != nullptr; }
};

/// The phases in pipeline order.
llvm::ArrayRef<Phase> kilnPhases();
/// The phase called `name`, or null.
const Phase *findPhase(llvm::StringRef name);

/// The last phase that works on IR (the back half follows it).
const Phase *lastIRPhase();

/// Runs the IR phases after `first` (null: from the start) up to and
/// including `last` (a back-half phase: through the last IR phase) on
/// `module`, calling `afterPhase` (if set) after each
/// with its index in kilnPhases(), for dumps. All of it is one pass
/// manager, which `configure` (if set) may give MLIR's command-line
/// options. Fails when a phase
/// does (its passes' diagnostics say why) or a callback returns false.
llvm::LogicalResult
runPhases(mlir::ModuleOp module, const PipelineOptions &options, const Phase *last,
          const Phase *first = nullptr,
          const std::function<bool(const Phase &, unsigned)> &afterPhase = {},
          const std::function<bool(mlir::PassManager &)> &configure = {});

} // namespace kiln

#endif // KILN_PIPELINE_PHASES_H
