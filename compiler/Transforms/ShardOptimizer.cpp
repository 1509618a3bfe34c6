//===- ShardOptimizer.cpp - optimizer state over the ranks (kiln-shard-optimizer) ===//
//
// ZeRO stages 1 and 2: each gradient bucket's all-reduce becomes a
// reduce-scatter, the optimizer's update runs on this rank's chunk of each
// parameter (its state kept as that chunk only), and an all-gather per
// bucket gives every rank the whole updated parameters back. The update
// is elementwise, so the chunks compute what the whole tensors did; its
// whole-tensor sums (norms) become partial sums added over the ranks.
// Whole gradients die at the reduce-scatter.
//
//===----------------------------------------------------------------------===//
#include "compiler/Transforms/Passes.h"
#include "compiler/Transforms/StepUtils.h"

#include "Kiln/IR/KilnBuilder.h"
#include "Kiln/IR/KilnDTypes.h"
#include "llvm/ADT/DenseSet.h"
#include "llvm/ADT/MapVector.h"
#include "llvm/ADT/StringMap.h"
#include "mlir/IR/IRMapping.h"

namespace kiln {
#define GEN_PASS_DEF_KILNSHARDOPTIMIZER
#include "compiler/Transforms/Passes.h.inc"
} // namespace kiln

using namespace mlir;
using namespace kiln;

namespace {

/// Whether `sum` adds up all of its operand into a scalar.
bool sumsEverything(SumOp sum) {
  return !sum.getKeepdim() &&
         int64_t(sum.getAxes().size()) == cast<RankedTensorType>(sum.getInput().getType()).getRank();
}

RankedTensorType chunkOf(Type whole, int64_t ranks) {
  auto t = cast<RankedTensorType>(whole);
  return RankedTensorType::get({(t.getNumElements() + ranks - 1) / ranks}, t.getElementType());
}

int64_t bytesOf(Type t) {
  auto r = cast<RankedTensorType>(t);
  return r.getNumElements() * elementBytes(*dtypeOf(r.getElementType()));
}

struct ShardOptimizer : kiln::impl::KilnShardOptimizerBase<ShardOptimizer> {
  void runOnOperation() override;

private:
  /// `v`'s chunk for an op that reads it whole beside chunks: a state
  /// becomes sharded state, anything else is cut by kiln.shard before `user`.
  FailureOr<Value> chunkOfWhole(Value v, Operation *user);
  /// `op`, elementwise, on chunks before `before`: operands in `known` by
  /// their chunks, scalars as they are, other whole operands cut.
  FailureOr<Operation *> cloneOnChunks(Operation *op, Operation *before,
                                       const llvm::DenseMap<Value, Value> &known);

  int64_t ranks = 1;
  func::FuncOp step;
  llvm::DenseMap<Value, Value> chunk;    // a value of the update -> its chunk
  llvm::DenseMap<Value, Value> cut;      // a whole value it reads -> its chunk
  llvm::StringMap<StateOp> shardedState; // by name
  llvm::DenseMap<Value, int64_t> bucket; // chunk -> the last bucket it reads
  SmallVector<Operation *> cone;         // whole ops cut, maybe dead now
  SmallVector<StateOp> replacedState;    // whole, now sharded
};

FailureOr<Value> ShardOptimizer::chunkOfWhole(Value v, Operation *user) {
  if (Value c = cut.lookup(v))
    return c;
  OpBuilder b(user);
  Operation *def = v.getDefiningOp();
  if (def && isElementwiseMap(def) && def->getNumResults() == 1) {
    // Computed elementwise from the state (AdamW's β₂·v): on chunks too.
    FailureOr<Operation *> clone = cloneOnChunks(def, user, cut);
    if (failed(clone))
      return failure();
    cone.push_back(def);
    return cut[v] = (*clone)->getResult(0);
  }
  if (auto s = dyn_cast_or_null<StateOp>(def)) {
    // Optimizer state (step 4 checks that the update was its only reader).
    b.setInsertionPoint(s);
    auto sharded = b.create<StateOp>(s.getLoc(), chunkOf(s.getType(), ranks), s.getNameAttr(),
                                     s.getInitAttr(), b.getDenseI64ArrayAttr(s.wholeShape()),
                                     b.getI64IntegerAttr(ranks));
    shardedState[s.getName()] = sharded;
    replacedState.push_back(s);
    return cut[v] = sharded.getResult();
  }
  // The parameter itself, which every rank keeps whole for forward.
  return cut[v] = b.create<ShardOp>(v.getLoc(), v, b.getI64IntegerAttr(ranks)).getResult();
}

FailureOr<Operation *> ShardOptimizer::cloneOnChunks(Operation *op, Operation *before,
                                                     const llvm::DenseMap<Value, Value> &known) {
  Type whole = op->getResult(0).getType();
  IRMapping mapper;
  for (Value v : op->getOperands()) {
    if (Value c = known.lookup(v)) {
      mapper.map(v, c);
      continue;
    }
    if (cast<RankedTensorType>(v.getType()).getRank() == 0)
      continue; // a scalar broadcasts to the chunk as to the whole
    if (cast<RankedTensorType>(v.getType()).getShape() !=
        cast<RankedTensorType>(whole).getShape())
      return op->emitError() << "broadcasts " << v.getType() << " against " << whole
                             << ": --shard-optimizer updates chunks elementwise";
    FailureOr<Value> c = chunkOfWhole(v, before);
    if (failed(c))
      return failure();
    mapper.map(v, *c);
  }
  OpBuilder b(before);
  Operation *clone = b.clone(*op, mapper);
  clone->getResult(0).setType(chunkOf(whole, ranks));
  return clone;
}

void ShardOptimizer::runOnOperation() {
  ModuleOp module = getOperation();
  step = stepFunction(module);
  if (!step)
    return signalPassFailure();
  if (auto r = module->getAttrOfType<IntegerAttr>("kiln.ranks"))
    ranks = r.getInt();
  int64_t nextBucket = 0;
  SmallVector<AllReduceOp> gradientBuckets;
  step.walk([&](AllReduceOp r) {
    nextBucket = std::max(nextBucket, int64_t(r.getBucket()) + 1);
    if (r.getGradients())
      gradientBuckets.push_back(r);
  });

  // 1. Each gradient bucket as a reduce-scatter. `kiln run --grads`
  // outputs die with the whole gradients.
  SmallVector<Operation *> dead; // users after what they use
  llvm::DenseSet<Operation *> deadSet;
  for (AllReduceOp r : gradientBuckets) {
    OpBuilder b(r);
    auto scatter = b.create<ReduceScatterOp>(r.getLoc(), r.getValues(), r.getBucketAttr(),
                                             r.getBytesAttr(), b.getI64IntegerAttr(ranks),
                                             r.getGradientsAttr());
    dead.push_back(r);
    deadSet.insert(r);
    for (auto [whole, part] : llvm::zip(r.getResults(), scatter.getResults())) {
      chunk[whole] = part;
      bucket[part] = r.getBucket();
      for (Operation *u : whole.getUsers())
        if (auto o = dyn_cast<OutputOp>(u); o && o.getName().starts_with("gradient.")) {
          dead.push_back(o);
          deadSet.insert(o);
        }
    }
  }

  // 2. The update, op by op in order, on chunks.
  llvm::MapVector<int64_t, SmallVector<UpdateParamOp>> updatesOf; // per bucket
  for (Operation &op : llvm::make_early_inc_range(step.getBody().front())) {
    bool readsChunk = llvm::any_of(op.getOperands(), [&](Value v) { return chunk.count(v); });
    if (!readsChunk || deadSet.contains(&op))
      continue;
    if (auto u = dyn_cast<UpdateParamOp>(op)) {
      updatesOf[bucket.lookup(chunk.lookup(u.getValue()))].push_back(u);
      continue;
    }
    if (auto u = dyn_cast<UpdateStateOp>(op)) {
      if (!shardedState.count(u.getName())) {
        u.emitError() << "state \"" << u.getName()
                      << "\" is updated from sharded gradients but is not optimizer state";
        return signalPassFailure();
      }
      u.getValueMutable().assign(chunk.lookup(u.getValue()));
      continue;
    }
    if (auto sum = dyn_cast<SumOp>(op); sum && sumsEverything(sum)) {
      // A whole-tensor sum (a norm for clipping or LARS, fp16's finiteness
      // check): this rank's chunk summed (the padding adds zeros), the
      // partial sums averaged over the ranks, times the ranks.
      OpBuilder b(&op);
      KilnBuilder k(b, op.getLoc());
      AllReduceOp partials = k.allReduce({k.sumAll(chunk.lookup(sum.getInput()))});
      partials.setBucket(nextBucket++);
      partials->setLoc(NameLoc::get(
          b.getStringAttr("all_reduce(bucket " + std::to_string(partials.getBucket()) + ")"),
          op.getLoc()));
      sum.getResult().replaceAllUsesWith(
          k.mul(partials.getResult(0), k.scalar(static_cast<double>(ranks))));
      dead.push_back(&op);
      continue;
    }
    if (!isElementwiseMap(&op) || op.getNumResults() != 1) {
      op.emitError() << "'" << op.getName()
                     << "' reads the averaged gradients but is neither elementwise nor a "
                        "whole-tensor sum: --shard-optimizer cannot split it over the ranks";
      return signalPassFailure();
    }
    int64_t last = -1;
    for (Value v : op.getOperands())
      if (Value c = chunk.lookup(v))
        last = std::max(last, bucket.lookup(c));
    FailureOr<Operation *> clone = cloneOnChunks(&op, &op, chunk);
    if (failed(clone))
      return signalPassFailure();
    chunk[op.getResult(0)] = (*clone)->getResult(0);
    bucket[(*clone)->getResult(0)] = last;
    dead.push_back(&op);
  }

  // 3. One all-gather per bucket after its last update; the parameters'
  // sinks (and the EMA teacher after them) read the whole result. Their
  // numbers come after every bucket their updates read (the planner
  // orders deferred update kernels by the last bucket they read).
  for (auto &[reduced, updates] : updatesOf) {
    SmallVector<Value> parts;
    SmallVector<Type> wholes;
    int64_t bytes = 0;
    Operation *latest = nullptr;
    for (UpdateParamOp u : updates) {
      Value part = chunk.lookup(u.getValue());
      parts.push_back(part);
      wholes.push_back(u.getValue().getType());
      bytes += bytesOf(u.getValue().getType());
      Operation *def = part.getDefiningOp();
      if (!latest || latest->isBeforeInBlock(def))
        latest = def;
    }
    OpBuilder b(step.getContext());
    b.setInsertionPointAfter(latest);
    auto gather = b.create<AllGatherOp>(
        NameLoc::get(b.getStringAttr("all_gather(bucket " + std::to_string(nextBucket) + ")"),
                     updates.front().getLoc()),
        wholes, parts, b.getI64IntegerAttr(nextBucket), b.getI64IntegerAttr(bytes),
        b.getI64IntegerAttr(ranks));
    ++nextBucket;
    // Each sink after the gather (a frozen parameter's select, built just
    // before its own sink, may come after an earlier one's).
    for (auto [u, whole] : llvm::reverse(llvm::zip(updates, gather.getResults()))) {
      u.getValueMutable().assign(whole);
      u->moveAfter(gather);
    }
  }

  // 4. The whole update and the replaced state go.
  for (Operation *op : llvm::reverse(dead))
    op->erase(); // users (later in `dead`) first
  for (Operation *op : llvm::reverse(cone))
    if (op->use_empty())
      op->erase();
  for (StateOp s : replacedState) {
    if (!s->use_empty()) {
      s.emitError() << "state \"" << s.getName()
                    << "\" is read outside the update: --shard-optimizer keeps only its chunk";
      return signalPassFailure();
    }
    s.erase();
  }

}

} // namespace
