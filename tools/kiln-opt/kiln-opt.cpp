//===- kiln-opt.cpp - mlir-opt with kiln's dialects and passes ------------===//
//
// For lit tests and for users who want to run one pass at a time:
//   kiln-opt graph.mlir --kiln-verify-step --mlir-print-ir-after-all
//
//===----------------------------------------------------------------------===//
#include "compiler/Pipeline/Registration.h"

#include "mlir/Tools/mlir-opt/MlirOptMain.h"

int main(int argc, char **argv) {
  mlir::DialectRegistry registry;
  kiln::registerKilnDialects(registry);
  kiln::registerKilnPassesAndPipelines();
  return mlir::asMainReturnCode(mlir::MlirOptMain(
      argc, argv, "kiln-opt: kiln's dialects and passes\n", registry));
}
