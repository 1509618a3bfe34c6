//===- ClipGradients.cpp - gradient clipping (kiln-clip-gradients) --------===//
//
// Rewrites the operand of every kiln.gradient as `kiln.optimizer.clip`
// says. The 1e-6 in the denominators is the reference code's (DINO's
// clip_gradients and PyTorch's clip_grad_norm_).
//
//===----------------------------------------------------------------------===//
#include "Kiln/IR/KilnLocations.h"
#include "compiler/Transforms/Passes.h"
#include "compiler/Transforms/StepUtils.h"

namespace kiln {
#define GEN_PASS_DEF_KILNCLIPGRADIENTS
#include "compiler/Transforms/Passes.h.inc"
} // namespace kiln

using namespace mlir;
using namespace kiln;

namespace {

struct ClipGradients : kiln::impl::KilnClipGradientsBase<ClipGradients> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    auto optimizer = module->getAttrOfType<DictionaryAttr>("kiln.optimizer");
    auto clip = optimizer ? optimizer.getAs<DictionaryAttr>("clip") : nullptr;
    if (!clip)
      return;
    auto kind = clip.getAs<StringAttr>("kind");
    auto maxNorm = numberOf(clip.get("max_norm"));
    if (!kind || !maxNorm ||
        (kind.getValue() != "per_param" && kind.getValue() != "global_norm")) {
      module.emitError("kiln.optimizer.clip needs kind \"per_param\" or "
                       "\"global_norm\" and a number max_norm");
      return signalPassFailure();
    }
    func::FuncOp step = stepFunction(module);
    if (!step)
      return signalPassFailure();
    SmallVector<GradientOp> grads;
    step.walk([&](GradientOp g) { grads.push_back(g); });
    if (grads.empty())
      return;

    OpBuilder b(grads.front());
    auto squaredNorm = [&](KilnBuilder &k, Value g) { return k.sumAll(k.mul(g, g)); };
    if (kind.getValue() == "per_param") {
      // c = max/(‖g‖ + 1e-6); g·c where c < 1
      for (GradientOp op : grads) {
        b.setInsertionPoint(op);
        KilnBuilder k(b, forNode(op.getLoc(), "clip"));
        Value g = op.getValue();
        Value c = k.div(k.scalar(*maxNorm),
                        k.add(k.sqrt(squaredNorm(k, g)), k.scalar(1e-6)));
        op.getValueMutable().assign(
            k.select(k.compare("lt", c, k.scalar(1.0)), k.mul(g, c), g));
      }
      return;
    }
    // n = √Σ‖g_p‖², every g times min(1, max/(n + 1e-6)); computed at the
    // end of the step, where every gradient is defined, with the sinks
    // moved after it.
    Operation *end = step.getBody().front().getTerminator();
    b.setInsertionPoint(end);
    KilnBuilder k(b, NameLoc::get(b.getStringAttr("clip(global gradient norm)"), module.getLoc()));
    Value total = squaredNorm(k, grads.front().getValue());
    for (GradientOp op : ArrayRef(grads).drop_front())
      total = k.add(total, squaredNorm(k, op.getValue()));
    Value c = k.min(k.div(k.scalar(*maxNorm),
                          k.add(k.sqrt(total), k.scalar(1e-6))),
                    k.scalar(1.0));
    for (GradientOp op : grads) {
      op.getValueMutable().assign(k.mul(op.getValue(), c));
      op->moveBefore(end);
    }
  }
};

} // namespace
