//===- StepUtils.cpp - helpers the training-step passes share -------------===//
#include "compiler/Transforms/StepUtils.h"

using namespace mlir;

namespace kiln {

func::FuncOp stepFunction(ModuleOp module) {
  func::FuncOp step;
  int count = 0;
  for (func::FuncOp f : module.getOps<func::FuncOp>())
    if (!f.getOps<LossOp>().empty()) {
      step = f;
      ++count;
    }
  if (count != 1) {
    module.emitError("expected exactly one func.func with a kiln.loss (the training step)");
    return nullptr;
  }
  return step;
}

OpBuilder sourceBuilder(func::FuncOp step) {
  Block &block = step.getBody().front();
  auto it = llvm::find_if(block, [](Operation &op) {
    return !isa<ParamOp, StateOp, InputOp, ScheduleOp>(op);
  });
  return OpBuilder(&block, Block::iterator(it));
}

std::optional<double> numberOf(Attribute value) {
  if (auto f = dyn_cast_or_null<FloatAttr>(value))
    return f.getValueAsDouble();
  if (auto i = dyn_cast_or_null<IntegerAttr>(value))
    return static_cast<double>(i.getInt());
  return std::nullopt;
}

Value numberOrSchedule(KilnBuilder &k, func::FuncOp step, Attribute value,
                       StringRef what, Operation *at) {
  if (auto n = numberOf(value))
    return k.scalar(*n);
  if (auto name = dyn_cast_or_null<StringAttr>(value)) {
    if (auto s = findSource<ScheduleOp>(step, name.getValue()))
      return s.getResult();
    at->emitError() << what << " names schedule \"" << name.getValue()
                    << "\", which the step does not have";
    return nullptr;
  }
  at->emitError() << what << " must be a number or a schedule name";
  return nullptr;
}

Value createZeroState(func::FuncOp step, Location loc, StringRef name, Type type) {
  OpBuilder b = sourceBuilder(step);
  auto init = b.getDictionaryAttr({b.getNamedAttr("kind", b.getStringAttr("zeros"))});
  return b.create<StateOp>(loc, type, b.getStringAttr(name), init);
}

} // namespace kiln
