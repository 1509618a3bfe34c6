//===- Phases.cpp - the compile pipeline as named phases ------------------===//
//
// The pipeline, phase by phase (docs/architecture.md says the same):
//   1. import    JSON graph -> kiln dialect (compiler/Import)
//   2. verify    graph-wide checks: names, one loss, state references
//   3. simplify  canonicalize + CSE
//   4. autodiff  kiln.gradient per trained parameter (kiln-autodiff)
//   5. all-reduce gradients, loss, metrics and batch statistics averaged
//                over the ranks, bucketed (kiln-insert-all-reduce)
//   6. optimizer clipping, then the optimizer's update of each parameter
//                and its state (kiln-clip-gradients, kiln-lower-optimizer)
//   7. ema       EMA teacher updates after the optimizer (kiln-ema-teacher)
//   8. train-step  the complete step, simplified (canonicalize + CSE)
//   9. fuse      row-wise ops into kiln.fusion regions (kiln-fuse)
//
//===----------------------------------------------------------------------===//
#include "compiler/Pipeline/Phases.h"

#include "compiler/Transforms/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Transforms/Passes.h"

namespace kiln {
namespace {

void addImport(mlir::OpPassManager &) {}

void addVerify(mlir::OpPassManager &pm) {
  pm.addNestedPass<mlir::func::FuncOp>(createKilnVerifyStep());
}

void addSimplify(mlir::OpPassManager &pm) {
  pm.addPass(mlir::createCanonicalizerPass());
  pm.addPass(mlir::createCSEPass());
}

void addAutodiff(mlir::OpPassManager &pm) {
  pm.addNestedPass<mlir::func::FuncOp>(createKilnAutodiff());
}

void addAllReduce(mlir::OpPassManager &pm) {
  KilnInsertAllReduceOptions options;
  options.bucketSize = pipelineOptions().bucketSize;
  options.firstBucketSize = pipelineOptions().firstBucketSize;
  pm.addPass(createKilnInsertAllReduce(options));
}

void addOptimizer(mlir::OpPassManager &pm) {
  pm.addPass(createKilnClipGradients());
  pm.addPass(createKilnLowerOptimizer());
}

void addEma(mlir::OpPassManager &pm) { pm.addPass(createKilnEmaTeacher()); }

void addFuse(mlir::OpPassManager &pm) {
  if (!pipelineOptions().fusion)
    return;
  KilnFuseOptions options;
  options.explain = pipelineOptions().explainFusion;
  pm.addNestedPass<mlir::func::FuncOp>(createKilnFuse(options));
}

const Phase kPhases[] = {
    {"import", "the JSON graph as kiln ops, one func.func @objective", addImport},
    {"verify", "graph-wide checks (kiln-verify-step)", addVerify},
    {"simplify", "canonicalize and CSE", addSimplify},
    {"autodiff", "gradients of the loss (kiln-autodiff)", addAutodiff},
    {"all-reduce", "gradients, loss, metrics and batch statistics averaged over the ranks "
                   "(kiln-insert-all-reduce)", addAllReduce},
    {"optimizer", "clipping and parameter updates (kiln-clip-gradients, "
                  "kiln-lower-optimizer)", addOptimizer},
    {"ema", "EMA teacher updates (kiln-ema-teacher)", addEma},
    {"train-step", "the complete step, simplified (canonicalize and CSE)",
     addSimplify},
    {"fuse", "row-wise ops as kiln.fusion regions, one kernel each (kiln-fuse)", addFuse},
};

} // namespace

llvm::ArrayRef<Phase> kilnPhases() { return kPhases; }

PipelineOptions &pipelineOptions() {
  static PipelineOptions options;
  return options;
}

const Phase *findPhase(llvm::StringRef name) {
  for (const Phase &p : kPhases)
    if (name == p.name)
      return &p;
  return nullptr;
}

} // namespace kiln
