//===- Phases.h - the compile pipeline as named phases -----------*- C++ -*-===//
//
// `kiln compile --compile-to=PHASE` stops after PHASE; `--dump-phases-to=DIR`
// writes the IR after each phase as DIR/NN-PHASE.mlir. Phases run in the
// order of kilnPhases(); each adds its passes to its own pass manager.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_PIPELINE_PHASES_H
#define KILN_PIPELINE_PHASES_H

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/StringRef.h"

#include <cstdint>

namespace mlir {
class OpPassManager;
} // namespace mlir

namespace kiln {

struct Phase {
  const char *name;
  const char *description;
  /// Adds this phase's passes (none for "import": the importer is the phase).
  void (*addPasses)(mlir::OpPassManager &pm);
};

/// Choices the command line makes for the whole pipeline.
struct PipelineOptions {
  bool fusion = true;         // kiln-fuse in the "fuse" phase
  bool explainFusion = false; // a remark for every refused fusion
  int64_t bucketSize = 25 << 20;     // kiln-insert-all-reduce's bucket-size
  int64_t firstBucketSize = 1 << 20; // and first-bucket-size
};
PipelineOptions &pipelineOptions();

/// The phases in pipeline order.
llvm::ArrayRef<Phase> kilnPhases();
/// The phase called `name`, or null.
const Phase *findPhase(llvm::StringRef name);

} // namespace kiln

#endif // KILN_PIPELINE_PHASES_H
