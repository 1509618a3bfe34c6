//===- Build.cpp - diagnostics that point into the JSON graph -------------===//
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

} // namespace kiln
