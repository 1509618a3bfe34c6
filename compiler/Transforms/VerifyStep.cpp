//===- VerifyStep.cpp - graph-wide checks (kiln-verify-step) --------------===//
//
// Checks what a single op verifier cannot: unique names per kind, one loss,
// references between parameters and to state. It changes nothing.
//
//===----------------------------------------------------------------------===//
#include "compiler/Transforms/Passes.h"

#include "Kiln/IR/KilnOps.h"
#include "llvm/ADT/StringMap.h"

namespace kiln {
#define GEN_PASS_DEF_KILNVERIFYSTEP
#include "compiler/Transforms/Passes.h.inc"
} // namespace kiln

using namespace mlir;
using namespace kiln;

namespace {

/// Remembers the first op of each name; reports the second.
class UniqueNames {
public:
  explicit UniqueNames(StringRef kind) : kind(kind) {}

  LogicalResult add(Operation *op, StringRef name) {
    auto [it, inserted] = first.try_emplace(name, op);
    if (inserted)
      return success();
    InFlightDiagnostic diag = op->emitOpError()
                              << "redefines " << kind << " \"" << name << "\"";
    diag.attachNote(it->second->getLoc()) << "first defined here";
    return failure();
  }
  Operation *lookup(StringRef name) const { return first.lookup(name); }

private:
  StringRef kind;
  llvm::StringMap<Operation *> first;
};

struct VerifyStepPass : public kiln::impl::KilnVerifyStepBase<VerifyStepPass> {
  void runOnOperation() override {
    if (failed(verify(getOperation())))
      signalPassFailure();
  }

  LogicalResult verify(func::FuncOp graph) {
    UniqueNames params("parameter"), states("state"), inputs("input"),
        schedules("schedule"), metrics("metric"), updates("update of state");
    llvm::DenseMap<int64_t, Operation *> streams;
    SmallVector<LossOp> losses;
    bool isEvalEntry = false; // returns tensors (kiln.output), no loss
    bool ok = true;
    graph.walk([&](Operation *op) {
      LogicalResult r = success();
      if (auto p = dyn_cast<ParamOp>(op))
        r = params.add(op, p.getName());
      else if (auto s = dyn_cast<StateOp>(op))
        r = states.add(op, s.getName());
      else if (auto i = dyn_cast<InputOp>(op))
        r = inputs.add(op, i.getName());
      else if (auto s = dyn_cast<ScheduleOp>(op))
        r = schedules.add(op, s.getName());
      else if (auto m = dyn_cast<MetricOp>(op))
        r = metrics.add(op, m.getName());
      else if (auto u = dyn_cast<UpdateStateOp>(op))
        r = updates.add(op, u.getName());
      else if (auto l = dyn_cast<LossOp>(op))
        losses.push_back(l);
      else if (isa<OutputOp>(op))
        isEvalEntry = true;
      else if (auto rnd = dyn_cast<RandomUniformOp>(op)) {
        auto [it, inserted] = streams.try_emplace(rnd.getStream(), op);
        if (!inserted) {
          rnd.emitOpError() << "reuses random stream " << rnd.getStream();
          r = failure();
        }
      }
      ok &= succeeded(r);
    });
    if (!ok)
      return failure();

    if (losses.size() != 1 && !(isEvalEntry && losses.empty())) {
      InFlightDiagnostic diag = graph.emitOpError()
                                << "needs exactly one kiln.loss, found "
                                << losses.size();
      for (LossOp l : losses)
        diag.attachNote(l.getLoc()) << "kiln.loss here";
      return failure();
    }

    // Cross references: parameter to parameter, update to state.
    WalkResult refs = graph.walk([&](Operation *op) {
      if (auto p = dyn_cast<ParamOp>(op)) {
        auto from = p.getInit().getAs<StringAttr>("from");
        for (StringAttr ref : {from, p.getEmaOfAttr()}) {
          if (!ref)
            continue;
          Operation *src = params.lookup(ref.getValue());
          if (!src || src == op) {
            p.emitOpError() << "refers to parameter \"" << ref.getValue()
                            << "\", which does not exist";
            return WalkResult::interrupt();
          }
          if (src->getResult(0).getType() != p.getType()) {
            p.emitOpError() << "has type " << typeString(p.getType())
                            << " but its source \"" << ref.getValue()
                            << "\" has " << typeString(src->getResult(0).getType());
            return WalkResult::interrupt();
          }
        }
      }
      if (auto u = dyn_cast<UpdateStateOp>(op)) {
        Operation *state = states.lookup(u.getName());
        if (!state) {
          u.emitOpError() << "updates state \"" << u.getName()
                          << "\", which does not exist";
          return WalkResult::interrupt();
        }
        if (state->getResult(0).getType() != u.getValue().getType()) {
          u.emitOpError() << "gives state \"" << u.getName() << "\" a "
                          << typeString(u.getValue().getType())
                          << " value but it is "
                          << typeString(state->getResult(0).getType());
          return WalkResult::interrupt();
        }
      }
      return WalkResult::advance();
    });
    return failure(refs.wasInterrupted());
  }
};

} // namespace
