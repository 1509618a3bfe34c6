//===- StepUtils.cpp - helpers the training-step passes share -------------===//
#include "compiler/Transforms/StepUtils.h"

#include "Kiln/IR/KilnLocations.h"

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

Operation *firstBackwardOp(Block &block) {
  for (Operation &op : block) {
    if (isa<ParamOp, StateOp, InputOp, ScheduleOp, ConstantOp>(op))
      continue;
    // "grad" alone: the backward of an op without a node (forNode); a
    // recomputation (kiln-recompute) may come before backward's first op.
    NameLoc n = nodeName(op.getLoc());
    if (!n)
      continue;
    StringRef name = n.getName().getValue();
    for (StringRef role : {"grad", "recompute"})
      if (name == role || (name.starts_with(role) && name.drop_front(role.size()).starts_with("(")))
        return &op;
  }
  return nullptr;
}

/// A pass's `option` when given, else the graph's `train.KEY`, else
/// `fallback`.
static std::string trainChoice(ModuleOp module, StringRef option, StringRef key,
                               StringRef fallback) {
  if (!option.empty())
    return option.str();
  if (auto train = module ? module->getAttrOfType<DictionaryAttr>("kiln.train") : nullptr)
    if (auto given = train.getAs<StringAttr>(key))
      return given.str();
  return fallback.str();
}

std::optional<DType> stepPrecision(ModuleOp module, StringRef option) {
  std::string name = trainChoice(module, option, "precision", "f32");
  std::optional<DType> d = precisionNamed(name);
  if (!d)
    module.emitError() << "unknown precision '" << name << "' (f32, bf16 or fp16)";
  return d;
}

Value castTo(OpBuilder &b, Value v, Type elem, Value namedAfter) {
  auto type = cast<RankedTensorType>(v.getType());
  if (type.getElementType() == elem)
    return v;
  if (auto c = v.getDefiningOp<CastOp>())
    if (getElementTypeOrSelf(c.getInput().getType()) == elem && type.getElementType().isF32())
      return c.getInput();
  std::string role;
  llvm::raw_string_ostream(role) << elem;
  return b.create<CastOp>(forNode(namedAfter.getLoc(), role),
                          RankedTensorType::get(type.getShape(), elem), v);
}

std::optional<DType> allReducePrecision(ModuleOp module, StringRef option) {
  std::string name = trainChoice(module, option, "all_reduce_precision", "f32");
  std::optional<DType> d = precisionNamed(name);
  if (d != DType::F32 && d != DType::BF16) {
    module.emitError() << "unknown all-reduce precision '" << name << "' (f32 or bf16)";
    return std::nullopt;
  }
  return d;
}

std::string recomputeMode(ModuleOp module, StringRef option) {
  return trainChoice(module, option, "recompute", "auto");
}

bool recomputes(ModuleOp module, StringRef option) {
  return module->hasAttr("kiln.checkpoint") || recomputeMode(module, option) != "none";
}

LossScaleSettings lossScaleSettings(ModuleOp module) {
  LossScaleSettings s;
  auto train = module->getAttrOfType<DictionaryAttr>("kiln.train");
  auto given = train ? train.getAs<DictionaryAttr>("loss_scale") : nullptr;
  if (!given)
    return s;
  for (auto [key, field] : {std::pair{"init_scale", &s.initScale},
                            {"growth_factor", &s.growthFactor},
                            {"backoff_factor", &s.backoffFactor},
                            {"growth_interval", &s.growthInterval}})
    if (auto n = numberOf(given.get(key)))
      *field = *n;
  return s;
}

Value createState(func::FuncOp step, Location loc, StringRef name, Type type,
                  DictionaryAttr init) {
  OpBuilder b = sourceBuilder(step);
  return b.create<StateOp>(loc, type, b.getStringAttr(name), init);
}

Value createZeroState(func::FuncOp step, Location loc, StringRef name, Type type) {
  Builder b(step.getContext());
  return createState(step, loc, name, type,
                     b.getDictionaryAttr({b.getNamedAttr("kind", b.getStringAttr("zeros"))}));
}

} // namespace kiln
