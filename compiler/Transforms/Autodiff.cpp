//===- Autodiff.cpp - reverse-mode differentiation (kiln-autodiff) --------===//
//
// Two sweeps over the step, which is one block in dependency order:
//   forward:  which values depend on a trained parameter through
//             differentiable ops (only those need gradients);
//   backward: from the loss (gradient 1) in reverse order, each op with a
//             gradient for some result and an operand that needs one
//             builds its vector-Jacobian product; gradients of a value
//             used several times are summed.
// The gradient ops are appended at the end of the step, after the forward
// ops and sinks, so every forward value they read is already defined.
//
//===----------------------------------------------------------------------===//
#include "Kiln/IR/KilnLocations.h"
#include "compiler/Transforms/Passes.h"

#include "Kiln/IR/KilnBuilder.h"
#include "Kiln/IR/KilnOps.h"

#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/DenseSet.h"

namespace kiln {
#define GEN_PASS_DEF_KILNAUTODIFF
#include "compiler/Transforms/Passes.h.inc"
} // namespace kiln

using namespace mlir;
using namespace kiln;

namespace {

bool isTrained(ParamOp p) { return !p.getEmaOf() && !p.getFrozen(); }

bool isFloatTensor(Value v) {
  auto t = dyn_cast<RankedTensorType>(v.getType());
  return t && t.getElementType().isF32();
}

struct Autodiff : kiln::impl::KilnAutodiffBase<Autodiff> {
  void runOnOperation() override {
    func::FuncOp func = getOperation();
    Block &block = func.getBody().front();
    LossOp loss;
    func.walk([&](LossOp op) { loss = op; });
    if (!loss) {
      // The evaluation entry has outputs and nothing to differentiate.
      if (!func.getOps<OutputOp>().empty())
        return;
      func.emitError("kiln-autodiff needs a 'kiln.loss' in the step");
      return signalPassFailure();
    }

    // Forward: values that depend on a trained parameter.
    llvm::DenseSet<Value> needsGrad;
    for (Operation &op : block) {
      if (auto p = dyn_cast<ParamOp>(op); p && isTrained(p)) {
        needsGrad.insert(p.getResult());
        continue;
      }
      if (!isa<GradientOpInterface>(op))
        continue;
      if (llvm::any_of(op.getOperands(), [&](Value v) { return needsGrad.contains(v); }))
        for (Value r : op.getResults())
          if (isFloatTensor(r))
            needsGrad.insert(r);
    }
    if (!needsGrad.contains(loss.getValue())) {
      loss.emitError("the loss does not depend on any trained parameter");
      return signalPassFailure();
    }

    // Backward.
    SmallVector<Operation *> forward;
    for (Operation &op : block)
      forward.push_back(&op);
    OpBuilder b(block.getTerminator());
    llvm::DenseMap<Value, Value> grad;
    auto accumulate = [&](Value v, Value g, Location loc) {
      auto [it, inserted] = grad.try_emplace(v, g);
      if (!inserted)
        it->second = KilnBuilder(b, loc).add(it->second, g);
    };
    Value seed = loss.getScale();
    grad[loss.getValue()] = seed ? seed : KilnBuilder(b, forNode(loss.getLoc(), "grad")).scalar(1.0);
    for (Operation *op : llvm::reverse(forward)) {
      auto rule = dyn_cast<GradientOpInterface>(op);
      if (!rule || !llvm::any_of(op->getOperands(),
                                 [&](Value v) { return needsGrad.contains(v); }))
        continue;
      SmallVector<Value> resultGrads;
      for (Value r : op->getResults())
        resultGrads.push_back(grad.lookup(r));
      if (llvm::all_of(resultGrads, [](Value g) { return !g; }))
        continue;
      SmallVector<Value> operandGrads;
      Operation *last = block.getTerminator()->getPrevNode();
      if (failed(rule.buildGradients(b, resultGrads, operandGrads)) ||
          operandGrads.size() != op->getNumOperands()) {
        op->emitError("gradient rule failed");
        return signalPassFailure();
      }
      // The rule builds at its op's location; its ops are that op's grad.
      Location backward = forNode(op->getLoc(), "grad");
      for (Operation *made = last->getNextNode(); made != block.getTerminator();
           made = made->getNextNode())
        made->setLoc(backward);
      for (auto [operand, g] : llvm::zip(op->getOperands(), operandGrads))
        if (g && needsGrad.contains(operand))
          accumulate(operand, g, backward);
    }

    // One kiln.gradient per trained parameter the loss reached, and the
    // same value as an output ("gradient.NAME") so that `kiln run --grads`
    // can report it after the optimizer has consumed it.
    for (Operation *op : forward)
      if (auto p = dyn_cast<ParamOp>(op); p && isTrained(p))
        if (Value g = grad.lookup(p.getResult())) {
          Location loc = forNode(p.getLoc(), "grad");
          b.create<GradientOp>(loc, p.getNameAttr(), g, /*apply=*/Value());
          b.create<OutputOp>(loc, b.getStringAttr("gradient." + p.getName()), g);
        }
  }
};

} // namespace
