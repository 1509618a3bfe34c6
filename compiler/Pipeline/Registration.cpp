//===- Registration.cpp - what kiln's tools register ----------------------===//
#include "compiler/Pipeline/Registration.h"

#include "Kiln/IR/KilnDialect.h"
#include "compiler/Transforms/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/Transforms/Passes.h"

namespace kiln {

void registerKilnDialects(mlir::DialectRegistry &registry) {
  registry.insert<KilnDialect, mlir::func::FuncDialect>();
}

void registerKilnPassesAndPipelines() {
  registerKilnPasses();
  mlir::registerCanonicalizerPass();
  mlir::registerCSEPass();
}

} // namespace kiln
