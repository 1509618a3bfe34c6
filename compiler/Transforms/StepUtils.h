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
#include "runtime/artifact/DType.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinOps.h"

namespace kiln {

/// The module's training step (the func.func with the loss; an evaluation
/// entry may sit beside it), or null with an error.
mlir::func::FuncOp stepFunction(mlir::ModuleOp module);

/// The first op of backward (kiln-autodiff names its ops grad(NODE),
/// kiln-recompute its clones recompute(NODE); constants, which
/// canonicalization hoists, do not count), or null when the block has none
/// (an evaluation entry).
mlir::Operation *firstBackwardOp(mlir::Block &block);

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

/// The step's precision: `option` when given (a pass's `precision`), else
/// the graph's `train.precision`, else f32. Null after an error on `module`
/// when the name is none of f32, bf16, fp16.
std::optional<DType> stepPrecision(mlir::ModuleOp module, llvm::StringRef option);

/// The step's recomputation mode: `option` when given (kiln-recompute's
/// `mode`), else the graph's `train.recompute`, else "auto".
std::string recomputeMode(mlir::ModuleOp module, llvm::StringRef option);

/// `v` with element type `elem`, named ROLE(NODE) after `namedAfter`'s
/// node (`bf16(X)`, `f32(X)`): v itself when it has it, the input of the
/// f32 cast v is when that input has it (widening is exact, so skipping
/// the round trip loses nothing), else a new kiln.cast.
mlir::Value castTo(mlir::OpBuilder &b, mlir::Value v, mlir::Type elem, mlir::Value namedAfter);

/// The gradients' all-reduce precision: `option` when given
/// (kiln-compress-all-reduce's `precision`), else the graph's
/// `train.all_reduce_precision`, else f32. Null after an error on `module`
/// when it is neither f32 nor bf16.
std::optional<DType> allReducePrecision(mlir::ModuleOp module, llvm::StringRef option);

/// Whether the step recomputes anything: a checkpointed call or mode auto.
bool recomputes(mlir::ModuleOp module, llvm::StringRef option);

/// torch.cuda.amp.GradScaler's settings, from the graph's
/// `train.loss_scale` (GradScaler's defaults where it is silent).
struct LossScaleSettings {
  double initScale = 65536.0;
  double growthFactor = 2.0;
  double backoffFactor = 0.5;
  double growthInterval = 2000;
};
LossScaleSettings lossScaleSettings(mlir::ModuleOp module);

/// The state names of the loss scaler (DINO saves it as `fp16_scaler`).
inline constexpr const char *kLossScaleState = "fp16_scaler.scale";
inline constexpr const char *kGrowthTrackerState = "fp16_scaler.growth_tracker";

/// A new `kiln.state` of `type` at the sources, initialised by `init`.
mlir::Value createState(mlir::func::FuncOp step, mlir::Location loc, llvm::StringRef name,
                        mlir::Type type, mlir::DictionaryAttr init);

/// A new zero-initialised `kiln.state` of `type` at the sources.
mlir::Value createZeroState(mlir::func::FuncOp step, mlir::Location loc,
                            llvm::StringRef name, mlir::Type type);

} // namespace kiln

#endif // KILN_TRANSFORMS_STEPUTILS_H
