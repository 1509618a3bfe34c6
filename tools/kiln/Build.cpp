//===- Build.cpp - diagnostics into the JSON graph, the phase loop ---------===//
#include "Build.h"

#include "compiler/Pipeline/Registration.h"

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

} // namespace kiln
