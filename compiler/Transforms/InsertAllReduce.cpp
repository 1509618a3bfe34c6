//===- InsertAllReduce.cpp - data-parallel averaging (kiln-insert-all-reduce) ===//
//
// Buckets the gradients in backward's production order and inserts one
// kiln.all_reduce per bucket right after the bucket's last producer, plus
// one for the loss, metrics and state updates computed from the batch.
//
//===----------------------------------------------------------------------===//
#include "Kiln/IR/KilnLocations.h"
#include "compiler/Transforms/Passes.h"
#include "compiler/Transforms/StepUtils.h"

#include "Kiln/IR/KilnBuilder.h"
#include "Kiln/IR/KilnDTypes.h"

#include "llvm/ADT/SetVector.h"
#include "llvm/ADT/TypeSwitch.h"

namespace kiln {
#define GEN_PASS_DEF_KILNINSERTALLREDUCE
#include "compiler/Transforms/Passes.h.inc"
} // namespace kiln

using namespace mlir;
using namespace kiln;

namespace {

int64_t bytesOf(Value v) {
  return cast<RankedTensorType>(v.getType()).getNumElements() * elementBytes(*dtypeOf(v.getType()));
}

/// Whether `v` differs between ranks: it is computed from the batch (an
/// input or a random draw) and not through an all-reduce.
class RankDependence {
public:
  bool operator()(Value v) {
    Operation *op = v.getDefiningOp();
    if (!op || isa<AllReduceOp>(op))
      return false;
    if (isa<InputOp, RandomUniformOp>(op))
      return true;
    auto [it, inserted] = memo.try_emplace(op, false);
    if (!inserted)
      return it->second;
    bool depends = llvm::any_of(op->getOperands(), [&](Value o) { return (*this)(o); });
    return memo[op] = depends;
  }

private:
  llvm::DenseMap<Operation *, bool> memo;
};

struct InsertAllReduce : kiln::impl::KilnInsertAllReduceBase<InsertAllReduce> {
  using KilnInsertAllReduceBase::KilnInsertAllReduceBase;

  void runOnOperation() override {
    func::FuncOp step = stepFunction(getOperation());
    if (!step)
      return signalPassFailure();
    Block &body = step.getBody().front();
    llvm::DenseMap<Operation *, int64_t> position;
    for (auto [i, op] : llvm::enumerate(body))
      position[&op] = i;
    auto producedAt = [&](Value v) {
      Operation *op = v.getDefiningOp();
      return op ? position.lookup(op) : -1;
    };

    // Gradients in the order backward produces them.
    llvm::SetVector<Value> gradients;
    step.walk([&](GradientOp g) { gradients.insert(g.getValue()); });
    SmallVector<Value> ordered(gradients.begin(), gradients.end());
    llvm::stable_sort(ordered, [&](Value a, Value b) { return producedAt(a) < producedAt(b); });
    SmallVector<SmallVector<Value>> buckets;
    int64_t filled = 0;
    for (Value g : ordered) {
      if (buckets.empty() || filled >= (buckets.size() == 1 ? firstBucketSize : bucketSize)) {
        buckets.emplace_back();
        filled = 0;
      }
      buckets.back().push_back(g);
      filled += bytesOf(g);
    }

    // The loss, metrics and state updates that differ between ranks.
    RankDependence dependsOnBatch;
    llvm::SetVector<Value> statistics;
    step.walk([&](Operation *op) {
      Value v = TypeSwitch<Operation *, Value>(op)
                    .Case([](LossOp l) { return l.getValue(); })
                    .Case([](MetricOp m) { return m.getValue(); })
                    .Case([](UpdateStateOp u) { return u.getValue(); })
                    .Default([](Operation *) { return Value(); });
      if (v && dependsOnBatch(v))
        statistics.insert(v);
    });
    size_t gradientBuckets = buckets.size();
    if (!statistics.empty())
      buckets.emplace_back(statistics.begin(), statistics.end());

    for (auto [index, bucket] : llvm::enumerate(buckets)) {
      Value last = *llvm::max_element(
          bucket, [&](Value a, Value b) { return producedAt(a) < producedAt(b); });
      OpBuilder b(step.getContext());
      if (Operation *producer = last.getDefiningOp())
        b.setInsertionPointAfter(producer);
      else
        b.setInsertionPointToStart(&body);
      AllReduceOp reduce = KilnBuilder(b, last.getLoc()).allReduce(bucket);
      reduce.setGradients(index < gradientBuckets);
      // Only the sinks read the mean: backward itself goes on with the
      // rank's own values (a gradient may feed another one's computation).
      for (auto [v, r] : llvm::zip(bucket, reduce.getResults()))
        Value(v).replaceUsesWithIf(r, [&](OpOperand &use) {
          return isa<GradientOp, OutputOp, LossOp, MetricOp, UpdateStateOp>(use.getOwner());
        });
    }
    // Number the buckets in the order they start, with those of
    // synchronised batch norms (forward and backward) among them.
    // Each is then named after its bucket, at the value that closed it.
    int64_t next = 0;
    step.walk([&](AllReduceOp r) {
      std::string name = "all_reduce(bucket " + std::to_string(next) + ")";
      r->setLoc(NameLoc::get(StringAttr::get(r.getContext(), name), r.getLoc()));
      r.setBucket(next++);
    });
  }
};

} // namespace
