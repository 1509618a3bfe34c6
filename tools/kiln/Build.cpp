//===- Build.cpp - diagnostics that point into the JSON graph -------------===//
#include "Build.h"

#include "Kiln/IR/KilnLocations.h"
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
  if (NameLoc name = nodeName(d.getLocation()))
    prefix = "in node '" + name.getName().str() + "': ";
  printer.emitDiagnostic(nodeLocation(d.getLocation()), prefix + d.str(), d.getSeverity());
  // Inside a library module: each call that led there, down to the user's file.
  for (Location call : callersOf(d.getLocation())) {
    auto name = dyn_cast<NameLoc>(call);
    std::string callee = name ? name.getName().str() : "?";
    // A network's call node: NameLoc(node, NameLoc(network, file:line:col)).
    auto network = name ? dyn_cast<NameLoc>(name.getChildLoc()) : NameLoc();
    printer.emitDiagnostic(call,
                           network ? "network '" + network.getName().str() +
                                         "' is called from here (node '" + callee + "')"
                                   : "module '" + callee + "' is called from here",
                           DiagnosticSeverity::Note);
  }
  for (Diagnostic &note : d.getNotes())
    printer.emitDiagnostic(nodeLocation(note.getLocation()), note.str(), note.getSeverity());
}

} // namespace kiln
