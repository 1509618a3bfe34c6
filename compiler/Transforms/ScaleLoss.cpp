//===- ScaleLoss.cpp - fp16 loss scaling, the scale (kiln-scale-loss) -----===//
//
// In f16 a gradient below 2^-24 flushes to zero, and many activation
// gradients are that small. As torch.cuda.amp.GradScaler does, backward
// carries the gradients multiplied by a loss scale: this pass makes the
// scale a state of the step and starts backward from it; after autodiff,
// kiln-unscale-gradients divides it out and adapts it. bf16 has f32's
// exponent range and needs neither.
//
//===----------------------------------------------------------------------===//
#include "Kiln/IR/KilnLocations.h"
#include "compiler/Transforms/Passes.h"
#include "compiler/Transforms/StepUtils.h"

namespace kiln {
#define GEN_PASS_DEF_KILNSCALELOSS
#include "compiler/Transforms/Passes.h.inc"
} // namespace kiln

using namespace mlir;
using namespace kiln;

namespace {

struct ScaleLoss : kiln::impl::KilnScaleLossBase<ScaleLoss> {
  using KilnScaleLossBase::KilnScaleLossBase;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    std::optional<DType> d = stepPrecision(module, precision);
    if (!d)
      return signalPassFailure();
    if (*d != DType::F16)
      return;
    func::FuncOp step = stepFunction(module);
    if (!step)
      return signalPassFailure();
    LossOp loss = *step.getOps<LossOp>().begin();
    Builder b(module.getContext());
    auto init = b.getDictionaryAttr(
        {b.getNamedAttr("kind", b.getStringAttr("constant")),
         b.getNamedAttr("value", b.getF64FloatAttr(lossScaleSettings(module).initScale))});
    Location loc = NameLoc::get(b.getStringAttr(kLossScaleState), module.getLoc());
    Value scale = createState(step, loc, kLossScaleState,
                              RankedTensorType::get({}, b.getF32Type()), init);
    loss.getScaleMutable().assign(scale);
    OpBuilder(loss).create<MetricOp>(loc, b.getStringAttr("loss_scale"), scale);
  }
};

} // namespace
