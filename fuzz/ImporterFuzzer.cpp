//===- ImporterFuzzer.cpp - libFuzzer target: the JSON graph importer ------===//
//
// Any bytes as MODEL.json (beside a copy of models/lib, so that imports
// resolve), imported and checked by kiln-verify-step. A crash, a sanitizer
// report or a hang is a finding; an error message is the expected outcome.
//
//===----------------------------------------------------------------------===//
#include "Kiln/IR/KilnDialect.h"
#include "compiler/Import/GraphImporter.h"
#include "compiler/Transforms/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"

#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Pass/PassManager.h"

#include <cstdlib>
#include <fstream>
#include <string>
#include <unistd.h>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static mlir::DialectRegistry *registry = [] {
    auto *r = new mlir::DialectRegistry;
    r->insert<kiln::KilnDialect, mlir::func::FuncDialect>();
    return r;
  }();
  // KILN_FUZZ_DIR holds lib/ (a copy of models/lib): bench/fuzz/run sets it.
  static std::string path = std::string(std::getenv("KILN_FUZZ_DIR") ? std::getenv("KILN_FUZZ_DIR")
                                                                     : ".") +
                            "/input-" + std::to_string(::getpid()) + ".json";
  std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char *>(data), size);
  mlir::MLIRContext context(*registry, mlir::MLIRContext::Threading::DISABLED);
  context.loadAllAvailableDialects();
  mlir::ScopedDiagnosticHandler quiet(&context, [](mlir::Diagnostic &) { return mlir::success(); });
  mlir::OwningOpRef<mlir::ModuleOp> module = kiln::importGraph(context, path);
  if (module) {
    mlir::PassManager pm(&context);
    pm.addNestedPass<mlir::func::FuncOp>(kiln::createKilnVerifyStep());
    (void)pm.run(*module);
  }
  return 0;
}
