//===- UnscaleGradients.cpp - fp16 loss scaling, the update (kiln-unscale-gradients)
//
// With a loss scale (kiln-scale-loss), each gradient is divided by it
// before clipping and the optimizer see it, and the step's updates apply
// only when every gradient is finite. The scale then changes as
// GradScaler.update() changes it: halved (backoff_factor) after a step
// with an inf or NaN, doubled (growth_factor) after growth_interval clean
// steps in a row while the result stays finite. The check reads the
// all-reduced gradients, so every rank skips the same steps.
//
//===----------------------------------------------------------------------===//
#include "Kiln/IR/KilnLocations.h"
#include "compiler/Transforms/Passes.h"
#include "compiler/Transforms/StepUtils.h"

#include <limits>

namespace kiln {
#define GEN_PASS_DEF_KILNUNSCALEGRADIENTS
#include "compiler/Transforms/Passes.h.inc"
} // namespace kiln

using namespace mlir;
using namespace kiln;

namespace {

struct UnscaleGradients : kiln::impl::KilnUnscaleGradientsBase<UnscaleGradients> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    func::FuncOp step = stepFunction(module);
    if (!step)
      return signalPassFailure();
    auto scaleState = findSource<StateOp>(step, kLossScaleState);
    if (!scaleState)
      return;
    SmallVector<GradientOp> grads;
    step.walk([&](GradientOp g) { grads.push_back(g); });
    llvm::StringMap<OutputOp> gradOutputs; // autodiff's "gradient.NAME"
    step.walk([&](OutputOp o) { gradOutputs[o.getName()] = o; });

    // Built at the step's end, where every gradient is defined; the
    // gradients (and their outputs, for `kiln run --grads`) move there.
    Operation *end = step.getBody().front().getTerminator();
    OpBuilder b(end);
    Location loc = NameLoc::get(b.getStringAttr("fp16_scaler"), module.getLoc());
    KilnBuilder k(b, loc);
    Value scale = scaleState.getResult();
    Value inverse = k.div(k.scalar(1.0), scale);
    // Σ g·0 over every element is 0 when all are finite and NaN otherwise.
    Value poison;
    for (GradientOp g : grads) {
      Value unscaled = k.mul(g.getValue(), inverse);
      Value zero = k.sumAll(k.mul(unscaled, k.scalar(0.0)));
      poison = poison ? k.add(poison, zero) : zero;
      if (OutputOp out = gradOutputs.lookup(("gradient." + g.getName()).str());
          out && out.getValue() == g.getValue()) {
        out.getValueMutable().assign(unscaled);
        out->moveBefore(end);
      }
      g.getValueMutable().assign(unscaled);
    }
    if (!poison)
      return;
    Value finite = k.compare("eq", poison, poison); // NaN ≠ NaN
    for (GradientOp g : grads) {
      g.getApplyMutable().assign(finite);
      g->moveBefore(end);
    }

    LossScaleSettings s = lossScaleSettings(module);
    auto scalarType = RankedTensorType::get({}, b.getF32Type());
    Value tracker = createZeroState(step, loc, kGrowthTrackerState, scalarType);
    Value zero = k.scalar(0.0);
    Value cleanSteps = k.add(tracker, k.scalar(1.0));
    Value due = k.compare("ge", cleanSteps, k.scalar(s.growthInterval));
    Value grown = k.select(due, k.mul(scale, k.scalar(s.growthFactor)), scale);
    // GradScaler keeps the scale when growing would overflow f32.
    Value kept = k.select(
        k.compare("le", grown, k.scalar(std::numeric_limits<float>::max())), grown, scale);
    Value nextScale = k.select(finite, kept, k.mul(scale, k.scalar(s.backoffFactor)));
    Value nextTracker = k.select(finite, k.select(due, zero, cleanSteps), zero);
    b.create<UpdateStateOp>(loc, b.getStringAttr(kLossScaleState), nextScale);
    b.create<UpdateStateOp>(loc, b.getStringAttr(kGrowthTrackerState), nextTracker);
  }
};

} // namespace
