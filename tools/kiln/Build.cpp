//===- Build.cpp - import, run the phases, write the artifact -------------===//
#include "Build.h"

#include "compiler/Import/GraphImporter.h"
#include "compiler/Pipeline/Registration.h"

#include "mlir/IR/DialectRegistry.h"
#include "mlir/Pass/PassManager.h"
#include "llvm/Support/raw_ostream.h"

using namespace mlir;

namespace kiln {

GraphDiagnostics::GraphDiagnostics(MLIRContext &context)
    : printer(sourceMgr, &context, llvm::errs()),
      handler(&context, [this](Diagnostic &d) {
        emit(d);
        return success();
      }) {}

void GraphDiagnostics::emit(Diagnostic &d) {
  std::string prefix;
  if (auto name = dyn_cast<NameLoc>(d.getLocation()))
    prefix = "in node '" + name.getName().str() + "': ";
  printer.emitDiagnostic(d.getLocation(), prefix + d.str(), d.getSeverity());
  for (Diagnostic &note : d.getNotes())
    printer.emitDiagnostic(note.getLocation(), note.str(), note.getSeverity());
}

bool runPhases(ModuleOp module, const Phase *last,
               const std::function<bool(const Phase &, unsigned)> &afterPhase,
               const std::function<bool(PassManager &)> &configure) {
  unsigned index = 0;
  for (const Phase &phase : kilnPhases()) {
    PassManager pm(module.getContext());
    if (configure && !configure(pm))
      return false;
    phase.addPasses(pm);
    if (failed(pm.run(module)))
      return false;
    if (!afterPhase(phase, index++))
      return false;
    if (&phase == last)
      break;
  }
  return true;
}

bool isArtifactPath(const std::string &path) {
  return path.size() > 5 && path.compare(path.size() - 5, 5, ".kiln") == 0;
}

int buildArtifact(const BuildRequest &request) {
  DialectRegistry registry;
  registerKilnDialects(registry);
  MLIRContext context(registry);
  context.loadAllAvailableDialects();
  GraphDiagnostics diagnostics(context);
  ImportOptions options;
  options.batchSize = request.batchSize;
  options.ranks = request.ranks;
  OwningOpRef<ModuleOp> module = importGraph(context, request.model, options);
  if (!module ||
      !runPhases(*module, &kilnPhases().back(), [](const Phase &, unsigned) { return true; }))
    return 1;
  std::string error;
  if (!writeArtifact(*module, request.artifact, request.artifactOptions, error)) {
    llvm::errs() << "kiln: " << error << "\n";
    return 1;
  }
  return 0;
}

} // namespace kiln
