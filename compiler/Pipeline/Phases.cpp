//===- Phases.cpp - the compile pipeline as named phases ------------------===//
//
// The pipeline, phase by phase (docs/architecture.md says the same):
//   1. import    JSON graph -> kiln dialect (compiler/Import)
//   2. verify    graph-wide checks: names, one loss, state references
//   3. simplify  canonicalize + CSE
//   4. batch-norm  batch_norm as reductions and maps, sync statistics
//                all-reduced (kiln-lower-batch-norm)
//   5. autodiff  kiln.gradient per trained parameter (kiln-autodiff); with
//                fp16, from a loss scale kept as state (kiln-scale-loss)
//   6. all-reduce gradients, loss, metrics and batch statistics averaged
//                over the ranks, bucketed (kiln-insert-all-reduce)
//   7. optimizer the loss scale divided out, non-finite steps skipped
//                (kiln-unscale-gradients); clipping, then the optimizer's
//                update of each parameter and its state
//                (kiln-clip-gradients, kiln-lower-optimizer); with
//                --shard-optimizer, each rank updates its chunk of every
//                parameter between a reduce-scatter and an all-gather
//                (kiln-shard-optimizer)
//   8. ema       EMA teacher updates after the optimizer (kiln-ema-teacher)
//   9. train-step  the complete step, simplified (canonicalize + CSE)
//  10. precision  GEMMs and what follows them in bf16/fp16, exp/log,
//                row ops, reductions and sinks in f32 (kiln-assign-precision);
//                with all_reduce_precision bf16, gradient buckets averaged
//                in bf16 (kiln-compress-all-reduce)
//  11. recompute  activations recomputed in backward instead of kept
//                (kiln-recompute: checkpointed calls, and cheap ops with
//                train.recompute or --recompute auto)
//  12. fuse      row-wise ops into kiln.fusion regions (kiln-fuse), the
//                other loop-kernel ops each in one (kiln-single-op-regions),
//                each named fusion_N_OPS_SHAPE (kiln-name-regions)
//  13. lower     resize_bilinear as GEMMs (kiln-decompose-resize)
// and the back half, on the planned step (compiler/Artifact/ArtifactWriter):
//  14. thunks       every value a buffer, every op a thunk
//  15. buffer-plan  in-place updates, the arena
//  16. kernels      kernel bodies, kernels.so, PTX
//  17. artifact     initial values, the manifest
//
//===----------------------------------------------------------------------===//
#include "compiler/Pipeline/Phases.h"

#include "compiler/Transforms/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Transforms/Passes.h"

using namespace mlir;

namespace kiln {
namespace {

void addImport(mlir::OpPassManager &, const PipelineOptions &) {}

void addVerify(mlir::OpPassManager &pm, const PipelineOptions &) {
  pm.addNestedPass<mlir::func::FuncOp>(createKilnVerifyStep());
}

void addSimplify(mlir::OpPassManager &pm, const PipelineOptions &) {
  pm.addPass(mlir::createCanonicalizerPass());
  pm.addPass(mlir::createCSEPass());
}

void addBatchNorm(mlir::OpPassManager &pm, const PipelineOptions &) {
  pm.addNestedPass<mlir::func::FuncOp>(createKilnLowerBatchNorm());
}

void addAutodiff(mlir::OpPassManager &pm, const PipelineOptions &pipeline) {
  KilnScaleLossOptions options;
  options.precision = pipeline.precision;
  pm.addPass(createKilnScaleLoss(options));
  pm.addNestedPass<mlir::func::FuncOp>(createKilnAutodiff());
}

void addAllReduce(mlir::OpPassManager &pm, const PipelineOptions &pipeline) {
  KilnInsertAllReduceOptions options;
  options.bucketSize = pipeline.bucketSize;
  options.firstBucketSize = pipeline.firstBucketSize;
  pm.addPass(createKilnInsertAllReduce(options));
}

void addOptimizer(mlir::OpPassManager &pm, const PipelineOptions &pipeline) {
  pm.addPass(createKilnUnscaleGradients());
  pm.addPass(createKilnClipGradients());
  pm.addPass(createKilnLowerOptimizer());
  if (pipeline.shardOptimizer)
    pm.addPass(createKilnShardOptimizer());
}

void addEma(mlir::OpPassManager &pm, const PipelineOptions &) {
  pm.addPass(createKilnEmaTeacher());
}

void addPrecision(mlir::OpPassManager &pm, const PipelineOptions &pipeline) {
  KilnAssignPrecisionOptions options;
  options.precision = pipeline.precision;
  pm.addPass(createKilnAssignPrecision(options));
  KilnCompressAllReduceOptions compress;
  compress.precision = pipeline.allReducePrecision;
  pm.addPass(createKilnCompressAllReduce(compress));
  pm.addPass(mlir::createCSEPass()); // one low copy of each value
}

void addRecompute(mlir::OpPassManager &pm, const PipelineOptions &pipeline) {
  KilnRecomputeOptions options;
  options.mode = pipeline.recompute;
  options.minBytes = pipeline.recomputeMinBytes;
  pm.addNestedPass<mlir::func::FuncOp>(createKilnRecompute(options));
}

void addFuse(mlir::OpPassManager &pm, const PipelineOptions &pipeline) {
  if (pipeline.fusion) {
    KilnFuseOptions options;
    options.explain = pipeline.explainFusion;
    pm.addNestedPass<mlir::func::FuncOp>(createKilnFuse(options));
  }
  pm.addNestedPass<mlir::func::FuncOp>(createKilnSingleOpRegions());
  pm.addPass(createKilnNameRegions());
}

void addLower(mlir::OpPassManager &pm, const PipelineOptions &) {
  pm.addNestedPass<mlir::func::FuncOp>(createKilnDecomposeResize());
}

const Phase kPhases[] = {
    {"import", "the JSON graph as kiln ops, one func.func @objective", addImport},
    {"verify", "graph-wide checks (kiln-verify-step)", addVerify},
    {"simplify", "canonicalize and CSE", addSimplify},
    {"batch-norm", "batch_norm as per-channel reductions and elementwise ops, synchronised "
                   "statistics averaged over the ranks (kiln-lower-batch-norm)", addBatchNorm},
    {"autodiff", "gradients of the loss, from a loss scale with fp16 (kiln-scale-loss, "
                 "kiln-autodiff)", addAutodiff},
    {"all-reduce", "gradients, loss, metrics and batch statistics averaged over the ranks "
                   "(kiln-insert-all-reduce)", addAllReduce},
    {"optimizer", "fp16 gradients unscaled and non-finite steps skipped, clipping, "
                  "parameter updates (kiln-unscale-gradients, kiln-clip-gradients, "
                  "kiln-lower-optimizer); with --shard-optimizer, on each rank's chunk "
                  "between a reduce-scatter and an all-gather (kiln-shard-optimizer)",
     addOptimizer},
    {"ema", "EMA teacher updates (kiln-ema-teacher)", addEma},
    {"train-step", "the complete step, simplified (canonicalize and CSE)",
     addSimplify},
    {"precision", "GEMMs and what follows them in bf16 or fp16, the rest in f32, as autocast "
                  "does (kiln-assign-precision); gradient buckets averaged in bf16 with "
                  "all_reduce_precision bf16 (kiln-compress-all-reduce)", addPrecision},
    {"recompute", "activations recomputed in backward instead of kept: checkpointed calls, "
                  "and cheap ops with recompute auto (kiln-recompute)", addRecompute},
    {"fuse", "row-wise ops as kiln.fusion regions, one kernel each (kiln-fuse), and "
             "every other loop-kernel op in a region of its own (kiln-single-op-regions), "
             "each region named fusion_N_OPS_SHAPE (kiln-name-regions)",
     addFuse},
    {"lower", "ops without a kernel of their own rewritten into ops with one: "
              "resize_bilinear as GEMMs (kiln-decompose-resize)", addLower},
    {"thunks", "every value a buffer, every op a thunk (a region's kernel, a GEMM, an "
               "all-reduce's start and wait, a random draw)", nullptr},
    {"buffer-plan", "updates in place, sinks of updated tensors copied, temporaries packed "
                    "into the arena by liveness", nullptr},
    {"kernels", "each region's kernel (one fused body for CPU and CUDA), kernels.so, PTX",
     nullptr},
    {"artifact", "initial parameters and state, the manifest: OUT.kiln", nullptr},
};

} // namespace

llvm::ArrayRef<Phase> kilnPhases() { return kPhases; }

const Phase *lastIRPhase() {
  const Phase *last = nullptr;
  for (const Phase &p : kPhases)
    if (p.onIR())
      last = &p;
  return last;
}

const Phase *findPhase(llvm::StringRef name) {
  for (const Phase &p : kPhases)
    if (name == p.name)
      return &p;
  return nullptr;
}

namespace {

/// Closes a phase inside the one pass manager of the whole pipeline: calls
/// the caller's `afterPhase` (dumps), failing the pipeline if it does.
struct PhaseEnd : PassWrapper<PhaseEnd, OperationPass<ModuleOp>> {
  PhaseEnd(const Phase &phase, unsigned index,
           const std::function<bool(const Phase &, unsigned)> &afterPhase)
      : phase(phase), index(index), afterPhase(afterPhase),
        name(std::string("end of phase '") + phase.name + "'"),
        argument(std::string("end-of-") + phase.name) {}
  StringRef getName() const override { return name; }
  StringRef getArgument() const override { return argument; }
  void runOnOperation() override {
    if (!afterPhase(phase, index))
      signalPassFailure();
    markAllAnalysesPreserved();
  }
  const Phase &phase;
  unsigned index;
  const std::function<bool(const Phase &, unsigned)> &afterPhase;
  std::string name, argument;
};

} // namespace

LogicalResult runPhases(ModuleOp module, const PipelineOptions &options, const Phase *last,
                        const Phase *first,
                        const std::function<bool(const Phase &, unsigned)> &afterPhase,
                        const std::function<bool(PassManager &)> &configure) {
  // One pass manager for every phase, so that MLIR's options (IR printing,
  // --mlir-print-ir-tree-dir's numbering, timing) see one pipeline.
  PassManager pm(module.getContext());
  if (configure && !configure(pm))
    return failure();
  ArrayRef<Phase> phases = kilnPhases();
  for (unsigned i = first ? first - phases.begin() + 1 : 0; i < phases.size() && phases[i].onIR();
       ++i) {
    phases[i].addPasses(pm, options);
    if (afterPhase)
      pm.addPass(std::make_unique<PhaseEnd>(phases[i], i, afterPhase));
    if (&phases[i] == last)
      break;
  }
  return pm.run(module);
}

} // namespace kiln
