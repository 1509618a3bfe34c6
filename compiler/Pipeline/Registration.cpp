//===- Registration.cpp - what kiln's tools register ----------------------===//
#include "compiler/Pipeline/Registration.h"
#include "compiler/Pipeline/Phases.h"

#include "Kiln/IR/KilnDialect.h"
#include "compiler/Transforms/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"
#include "mlir/Transforms/Passes.h"
#include "llvm/Support/ErrorHandling.h"

namespace kiln {
namespace {

/// `kiln-opt --kiln-pipeline="from=PHASE to=PHASE fusion=false precision=bf16"`.
struct KilnPipelineOptions : mlir::PassPipelineOptions<KilnPipelineOptions> {
  Option<std::string> from{*this, "from",
                           llvm::cl::desc("Start after this phase (the input is its IR)"),
                           llvm::cl::init("import")};
  Option<std::string> to{*this, "to", llvm::cl::desc("The last phase to run"),
                         llvm::cl::init("lower")};
  Option<bool> fusion{*this, "fusion", llvm::cl::desc("Run kiln-fuse in the fuse phase"),
                      llvm::cl::init(true)};
  Option<std::string> precision{
      *this, "precision",
      llvm::cl::desc("f32, bf16 or fp16 for the precision phase (default: the graph's)")};
};

const Phase &phaseNamed(llvm::StringRef name) {
  if (const Phase *p = findPhase(name))
    return *p;
  std::string names;
  for (const Phase &p : kilnPhases())
    names += std::string(names.empty() ? "" : ", ") + p.name;
  llvm::report_fatal_error(llvm::Twine("kiln-pipeline: unknown phase '") + name +
                               "' (phases: " + names + ")",
                           /*gen_crash_diag=*/false);
}

void buildKilnPipeline(mlir::OpPassManager &pm, const KilnPipelineOptions &o) {
  PipelineOptions options;
  options.fusion = o.fusion;
  options.precision = o.precision;
  llvm::ArrayRef<Phase> phases = kilnPhases();
  const Phase *first = &phaseNamed(o.from), *last = &phaseNamed(o.to);
  if (!last->onIR())
    llvm::report_fatal_error(llvm::Twine("kiln-pipeline: '") + last->name +
                                 "' works on the planned step, not on IR (kiln compile "
                                 "--compile-to runs it)",
                             /*gen_crash_diag=*/false);
  for (const Phase *p = first + 1; p <= last && p != phases.end(); ++p)
    p->addPasses(pm, options);
}

} // namespace

void registerKilnDialects(mlir::DialectRegistry &registry) {
  registry.insert<KilnDialect, mlir::func::FuncDialect>();
}

void registerKilnPassesAndPipelines() {
  registerKilnPasses();
  mlir::registerCanonicalizerPass();
  mlir::registerCSEPass();
  static bool once = [] {
    mlir::PassPipelineRegistration<KilnPipelineOptions>(
        "kiln-pipeline",
        "kiln compile's phases after `from` through `to` (kiln compile --list-phases)",
        buildKilnPipeline);
    return true;
  }();
  (void)once;
}

} // namespace kiln
