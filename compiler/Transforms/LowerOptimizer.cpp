//===- LowerOptimizer.cpp - optimizer updates (kiln-lower-optimizer) ------===//
//
// Each kiln.gradient becomes the update of its parameter, written as kiln
// ops that follow PyTorch's single-tensor SGD and AdamW and DINO's LARS
// line by line, so their results can be compared with those optimizers.
// Optimizer state is ordinary kiln.state named after PyTorch's state keys.
//
//===----------------------------------------------------------------------===//
#include "Kiln/IR/KilnLocations.h"
#include "compiler/Transforms/Passes.h"
#include "compiler/Transforms/StepUtils.h"

#include "Kiln/IR/KilnParamPattern.h"
#include "llvm/ADT/StringMap.h"

#include <cmath>

namespace kiln {
#define GEN_PASS_DEF_KILNLOWEROPTIMIZER
#include "compiler/Transforms/Passes.h.inc"
} // namespace kiln

using namespace mlir;
using namespace kiln;

namespace {

/// The settings one parameter is updated with.
struct ParamSettings {
  Value lr, weightDecay; // weightDecay null: none
  Value active;          // i1 scalar while not frozen, null: always
  Value apply;           // the gradient's `if` (finite fp16 step), null: always
  std::string stepName;  // AdamW's step counter for this freeze set

  /// `next`, or `old` while frozen or when the gradient is not applied.
  Value kept(KilnBuilder &k, Value next, Value old) const {
    for (Value condition : {active, apply})
      if (condition)
        next = k.select(condition, next, old);
    return next;
  }
};

struct LowerOptimizer : kiln::impl::KilnLowerOptimizerBase<LowerOptimizer> {
  void runOnOperation() override;

private:
  LogicalResult lower(GradientOp grad, ParamOp param, const ParamSettings &s);
  FailureOr<ParamSettings> settingsFor(ParamOp param, KilnBuilder &k);
  /// The step count after this step's increment, for a freeze set; built
  /// at `k` the first time (the first parameter of the set).
  Value nextStep(const ParamSettings &s, KilnBuilder &k);
  /// A kiln.state (zeros) for `param`'s optimizer slot `key`, with its
  /// update written at the step's end (held while frozen).
  Value slot(StringRef key, ParamOp param);
  void setSlot(StringRef key, ParamOp param, Value next, const ParamSettings &s);
  Value option(KilnBuilder &k, StringRef key, double fallback);

  ModuleOp module;
  func::FuncOp step;
  DictionaryAttr options;
  OpBuilder *end = nullptr; // at the step's terminator
  llvm::StringMap<Value> stepCounts;
};

Value LowerOptimizer::option(KilnBuilder &k, StringRef key, double fallback) {
  Attribute a = options.get(key);
  return a ? numberOrSchedule(k, step, a, ("optimizer '" + key + "'").str(), module)
           : k.scalar(fallback);
}

FailureOr<ParamSettings> LowerOptimizer::settingsFor(ParamOp param, KilnBuilder &k) {
  ParamSettings s;
  StringRef name = param.getName();
  int64_t rank = shapeOf(param.getResult()).size();
  s.lr = option(k, "lr", 0.0);
  Attribute wd = options.get("weight_decay");
  double lrScale = 1.0;
  if (auto groups = options.getAs<ArrayAttr>("groups"))
    for (Attribute g : groups) {
      auto group = dyn_cast<DictionaryAttr>(g);
      auto match = group ? group.getAs<StringAttr>("match") : nullptr;
      if (!match || !matchesParamPattern(match.getValue(), name, rank))
        continue;
      if (Attribute gwd = group.get("weight_decay"))
        wd = gwd;
      lrScale = numberOf(group.get("lr_scale")).value_or(1.0);
      break;
    }
  if (lrScale != 1.0)
    s.lr = k.mul(s.lr, k.scalar(lrScale));
  if (wd && numberOf(wd) != 0.0) {
    s.weightDecay = numberOrSchedule(k, step, wd, "optimizer 'weight_decay'", module);
    if (!s.weightDecay)
      return failure();
  }
  if (!s.lr)
    return failure();
  s.stepName = "optimizer.step";
  if (auto freeze = options.getAs<ArrayAttr>("freeze"))
    for (auto [i, f] : llvm::enumerate(freeze)) {
      auto rule = dyn_cast<DictionaryAttr>(f);
      auto match = rule ? rule.getAs<StringAttr>("match") : nullptr;
      auto epochs = rule ? numberOf(rule.get("epochs")) : std::nullopt;
      if (!match || !epochs) {
        module.emitError("each optimizer 'freeze' entry needs 'match' and 'epochs'");
        return failure();
      }
      if (!matchesParamPattern(match.getValue(), name, rank))
        continue;
      // A from_epoch schedule: 0 before `epochs`, 1 from then on.
      std::string schedName = "optimizer.freeze." + std::to_string(i);
      auto sched = findSource<ScheduleOp>(step, schedName);
      if (!sched) {
        OpBuilder b = sourceBuilder(step);
        auto spec = b.getDictionaryAttr(
            {b.getNamedAttr("kind", b.getStringAttr("from_epoch")),
             b.getNamedAttr("epoch", b.getI64IntegerAttr(static_cast<int64_t>(*epochs)))});
        sched = b.create<ScheduleOp>(param.getLoc(),
                                     RankedTensorType::get({}, b.getF32Type()),
                                     b.getStringAttr(schedName), spec);
      }
      s.active = k.compare("gt", sched.getResult(), k.scalar(0.5));
      s.stepName = "optimizer.step.freeze." + std::to_string(i);
      break;
    }
  return s;
}

Value LowerOptimizer::nextStep(const ParamSettings &s, KilnBuilder &k) {
  if (Value v = stepCounts.lookup(s.stepName))
    return v;
  Location loc = k.location();
  auto scalarType = RankedTensorType::get({}, end->getF32Type());
  Value count = createZeroState(step, loc, s.stepName, scalarType);
  Value next = k.add(count, k.scalar(1.0));
  KilnBuilder ke(*end, loc);
  end->create<UpdateStateOp>(loc, end->getStringAttr(s.stepName), s.kept(ke, next, count));
  stepCounts[s.stepName] = next;
  return next;
}

Value LowerOptimizer::slot(StringRef key, ParamOp param) {
  return createZeroState(step, param.getLoc(),
                         ("optimizer." + key + "." + param.getName()).str(),
                         param.getType());
}

void LowerOptimizer::setSlot(StringRef key, ParamOp param, Value next,
                             const ParamSettings &s) {
  std::string name = ("optimizer." + key + "." + param.getName()).str();
  Value old = findSource<StateOp>(step, name).getResult();
  Location loc = forNode(param.getLoc(), "update");
  KilnBuilder k(*end, loc);
  end->create<UpdateStateOp>(loc, end->getStringAttr(name),
                             s.kept(k, next, old));
}

LogicalResult LowerOptimizer::lower(GradientOp grad, ParamOp param,
                                    const ParamSettings &s) {
  OpBuilder b(grad);
  KilnBuilder k(b, grad.getLoc());
  Value p = param.getResult(), g = grad.getValue(), next;
  StringRef kind = options.getAs<StringAttr>("kind").getValue();
  bool isRank1 = shapeOf(p).size() == 1;

  if (kind == "adamw") {
    // PyTorch _single_tensor_adamw.
    auto betas = options.getAs<ArrayAttr>("betas");
    double b1 = betas ? numberOf(betas[0]).value_or(0.9) : 0.9;
    double b2 = betas ? numberOf(betas[1]).value_or(0.999) : 0.999;
    double eps = numberOf(options.get("eps")).value_or(1e-8);
    Value t = nextStep(s, k);
    Value m = slot("exp_avg", param), v = slot("exp_avg_sq", param);
    Value decayed = s.weightDecay
                        ? k.mul(p, k.sub(k.scalar(1.0), k.mul(s.lr, s.weightDecay)))
                        : p;
    Value m1 = k.add(m, k.mul(k.sub(g, m), k.scalar(1.0 - b1))); // lerp
    Value v1 = k.add(k.mul(v, k.scalar(b2)), k.mul(k.mul(g, g), k.scalar(1.0 - b2)));
    // 1 - β^t = -expm1(t·ln β): PyTorch computes it in double on the host;
    // written this way it stays accurate in f32 where 1 - β^t cancels.
    auto biasCorrection = [&](double beta) {
      return k.neg(k.expm1(k.mul(t, k.scalar(std::log(beta)))));
    };
    Value bc1 = biasCorrection(b1), bc2 = biasCorrection(b2);
    Value stepSize = k.div(s.lr, bc1);
    Value denom = k.add(k.div(k.sqrt(v1), k.sqrt(bc2)), k.scalar(eps));
    next = k.sub(decayed, k.mul(stepSize, k.div(m1, denom)));
    setSlot("exp_avg", param, m1, s);
    setSlot("exp_avg_sq", param, v1, s);
  } else if (kind == "sgd") {
    // PyTorch SGD, dampening 0 (a zero buffer then equals its first-step
    // initialisation to the gradient).
    Value d = s.weightDecay ? k.add(g, k.mul(s.weightDecay, p)) : g;
    if (Attribute mom = options.get("momentum"); mom && numberOf(mom) != 0.0) {
      Value mu = numberOrSchedule(k, step, mom, "optimizer 'momentum'", module);
      if (!mu)
        return failure();
      Value buf = slot("momentum_buffer", param);
      Value buf1 = k.add(k.mul(buf, mu), d);
      auto nesterov = options.getAs<BoolAttr>("nesterov");
      d = nesterov && nesterov.getValue() ? k.add(d, k.mul(mu, buf1)) : buf1;
      setSlot("momentum_buffer", param, buf1, s);
    }
    next = k.sub(p, k.mul(s.lr, d));
  } else if (kind == "lars") {
    // DINO utils.LARS: 1-D tensors get neither decay nor the trust ratio.
    double eta = numberOf(options.get("trust_coefficient")).value_or(0.001);
    Value mu = option(k, "momentum", 0.9);
    if (!mu)
      return failure();
    Value d = g;
    if (!isRank1) {
      if (s.weightDecay)
        d = k.add(d, k.mul(p, s.weightDecay));
      Value zero = k.scalar(0.0), one = k.scalar(1.0);
      Value pn = k.sqrt(k.sumAll(k.mul(p, p)));
      Value un = k.sqrt(k.sumAll(k.mul(d, d)));
      Value q = k.select(k.compare("gt", pn, zero),
                         k.select(k.compare("gt", un, zero),
                                  k.div(k.mul(k.scalar(eta), pn), un), one),
                         one);
      d = k.mul(d, q);
    }
    Value buf = slot("mu", param);
    Value buf1 = k.add(k.mul(buf, mu), d);
    setSlot("mu", param, buf1, s);
    next = k.sub(p, k.mul(s.lr, buf1));
  } else {
    return module.emitError() << "unknown optimizer kind '" << kind << "'";
  }
  KilnBuilder ke(*end, grad.getLoc());
  end->create<UpdateParamOp>(grad.getLoc(), param.getNameAttr(),
                             s.kept(ke, next, p));
  grad.erase();
  return success();
}

void LowerOptimizer::runOnOperation() {
  module = getOperation();
  step = stepFunction(module);
  if (!step)
    return signalPassFailure();
  SmallVector<GradientOp> grads;
  step.walk([&](GradientOp g) { grads.push_back(g); });
  if (grads.empty())
    return;
  options = module->getAttrOfType<DictionaryAttr>("kiln.optimizer");
  if (!options || !options.getAs<StringAttr>("kind")) {
    module.emitError("the step has gradients but the module has no "
                     "kiln.optimizer with a 'kind'");
    return signalPassFailure();
  }
  OpBuilder endBuilder(step.getBody().front().getTerminator());
  end = &endBuilder;
  for (GradientOp grad : grads) {
    ParamOp param = findSource<ParamOp>(step, grad.getName());
    if (!param) {
      grad.emitError() << "no parameter named \"" << grad.getName() << "\"";
      return signalPassFailure();
    }
    // Everything built for the parameter's update says so.
    grad->setLoc(forNode(param.getLoc(), "update"));
    OpBuilder b(grad);
    KilnBuilder k(b, grad.getLoc());
    auto settings = settingsFor(param, k);
    if (succeeded(settings))
      settings->apply = grad.getApply();
    if (failed(settings) || failed(lower(grad, param, *settings)))
      return signalPassFailure();
  }
}

} // namespace
