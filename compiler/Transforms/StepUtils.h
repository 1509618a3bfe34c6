//===- StepUtils.h - helpers the training-step passes share ------*- C++ -*-===//
//
// The step is one func.func whose sources (params, state, inputs,
// schedules) come first. Passes that add optimizer state or read schedules
// find and create those sources through these helpers.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_TRANSFORMS_STEPUTILS_H
#define KILN_TRANSFORMS_STEPUTILS_H

#include "Kiln/IR/KilnBuilder.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinOps.h"

namespace kiln {

/// The module's training step (the func.func with the loss; an evaluation
/// entry may sit beside it), or null with an error.
mlir::func::FuncOp stepFunction(mlir::ModuleOp module);

/// A builder positioned after the step's last source op.
mlir::OpBuilder sourceBuilder(mlir::func::FuncOp step);

/// The source op of `OpTy` named `name`, or null.
template <typename OpTy>
OpTy findSource(mlir::func::FuncOp step, llvm::StringRef name) {
  OpTy found;
  step.walk([&](OpTy op) {
    if (op.getName() == name)
      found = op;
  });
  return found;
}

/// A scalar option given as a number or as the name of a schedule of the
/// step: a constant or the schedule's value. Null (after an error at `at`
/// naming `what`) when it is neither.
mlir::Value numberOrSchedule(KilnBuilder &k, mlir::func::FuncOp step,
                             mlir::Attribute value, llvm::StringRef what,
                             mlir::Operation *at);

/// The number in an IntegerAttr or FloatAttr.
std::optional<double> numberOf(mlir::Attribute value);

/// A new zero-initialised `kiln.state` of `type` at the sources.
mlir::Value createZeroState(mlir::func::FuncOp step, mlir::Location loc,
                            llvm::StringRef name, mlir::Type type);

} // namespace kiln

#endif // KILN_TRANSFORMS_STEPUTILS_H
