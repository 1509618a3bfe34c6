//===- kiln-opt.cpp - mlir-opt with kiln's dialects and passes ------------===//
//
// For lit tests and for users who want to run one pass at a time:
//   kiln-opt graph.mlir --kiln-verify-step --mlir-print-ir-after-all
//
//===----------------------------------------------------------------------===//
#include "compiler/Pipeline/Registration.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/ControlFlow/IR/ControlFlow.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Tools/mlir-opt/MlirOptMain.h"

int main(int argc, char **argv) {
  mlir::DialectRegistry registry;
  kiln::registerKilnDialects(registry);
  // What kernel dumps hold (kiln compile --dump-kernels-to), before and
  // after lowering, so that kiln-opt reads every dump kiln writes.
  registry.insert<mlir::arith::ArithDialect, mlir::cf::ControlFlowDialect,
                  mlir::LLVM::LLVMDialect, mlir::math::MathDialect, mlir::memref::MemRefDialect,
                  mlir::scf::SCFDialect>();
  kiln::registerKilnPassesAndPipelines();
  return mlir::asMainReturnCode(mlir::MlirOptMain(
      argc, argv, "kiln-opt: kiln's dialects and passes\n", registry));
}
