//===- CollectiveSchedule.cpp - where the all-reduces start and wait -----===//
#include "compiler/Codegen/Planner.h"
#include "compiler/Codegen/FusionKernel.h"
#include "runtime/artifact/ShardLayout.h"

#include "Kiln/IR/KilnDTypes.h"

#include "llvm/ADT/DenseSet.h"

#include <map>

using namespace mlir;

namespace kiln {

/// A bucket's collective (kiln.all_reduce, kiln.reduce_scatter or
/// kiln.all_gather): its bucket buffer and result buffers, and its start
/// and wait thunks, which startCollective places.
Planner::Collective Planner::collective(Operation *op, ArrayRef<int64_t> operands,
                                        llvm::DenseMap<Value, int64_t> &bufferOf) {
  int64_t number = op->getAttrOfType<IntegerAttr>("bucket").getInt();
  int64_t bytes = op->getAttrOfType<IntegerAttr>("bytes").getInt();
  auto ranksAttr = op->getAttrOfType<IntegerAttr>("ranks");
  int64_t ranks = ranksAttr ? ranksAttr.getInt() : 1;
  std::string name = "bucket " + std::to_string(number);
  // A bucket holds its operands' type, f32 or bf16 (kiln-compress-all-reduce;
  // the manifest checks that every packed tensor has it). A sharded one
  // holds a segment per rank of every tensor's chunk.
  Type elem = getElementTypeOrSelf(op->getOperand(0).getType());
  int64_t elements = 0;
  for (Value v : op->getOperands()) {
    int64_t n = cast<RankedTensorType>(v.getType()).getNumElements();
    elements += isa<ReduceScatterOp>(op) ? ranks * ShardLayout::chunkOf(n, ranks)
                : isa<AllGatherOp>(op)   ? ranks * n
                                         : n;
  }
  auto flat = RankedTensorType::get({elements}, elem);
  BucketTransfer transfer;
  transfer.bucket = number;
  transfer.bucketBuffer = newBuffer(name, "bucket", flat, Region::Arena);
  transfer.tensors.assign(operands.begin(), operands.end());
  transfer.ranks = ranks;
  BucketTransfer results = transfer;
  results.tensors.clear();
  for (Value r : op->getResults()) {
    int64_t id = newBuffer(name, "temp", r.getType(), Region::Arena);
    bufferOf[r] = id;
    results.tensors.push_back(id);
  }
  auto thunk = [&](auto payload, const BucketTransfer &fields) {
    static_cast<BucketTransfer &>(payload) = fields;
    return Thunk{payload, {thunkLabel(op)}, 0, 2 * bytes};
  };
  if (isa<ReduceScatterOp>(op))
    return {thunk(ReduceScatterStart{}, transfer), thunk(ReduceScatterWait{}, results)};
  if (isa<AllGatherOp>(op))
    return {thunk(AllGatherStart{}, transfer), thunk(AllGatherWait{}, results)};
  return {thunk(AllReduceStart{}, transfer), thunk(AllReduceWait{}, results)};
}

/// The collective's start here; its wait comes later (placeCollectiveWaits).
void Planner::startCollective(Collective c, Program &program) {
  pendingWaits.push_back({std::move(c.wait), program.thunks.size()});
  program.thunks.push_back(std::move(c.start));
}

/// Each bucket's wait goes right before the first thunk that reads one of
/// its results (else at the end, for the sinks), so that the thunks between
/// run while the bucket is in flight.
void Planner::placeCollectiveWaits(Program &program) {
  std::vector<Thunk> thunks;
  std::vector<bool> placed(pendingWaits.size(), false);
  for (size_t i = 0; i < program.thunks.size(); ++i) {
    for (size_t w = 0; w < pendingWaits.size(); ++w) {
      auto &[wait, startIndex] = pendingWaits[w];
      bool reads = llvm::any_of(wait.written(),
                                [&](int64_t id) { return program.thunks[i].uses(id); });
      if (!placed[w] && startIndex < i && reads) {
        thunks.push_back(wait);
        placed[w] = true;
      }
    }
    thunks.push_back(std::move(program.thunks[i]));
  }
  for (size_t w = 0; w < pendingWaits.size(); ++w)
    if (!placed[w])
      thunks.push_back(pendingWaits[w].first);
  program.thunks = std::move(thunks);
  pendingWaits.clear();
}

/// Each shard's copy moves to right before the first thunk that reads it:
/// the chunk of a parameter is needed by its update only, at the step's
/// end, and would otherwise hold 1/N of the parameters through backward.
void Planner::sinkShardSlices(Program &program) {
  std::vector<Thunk> &thunks = program.thunks;
  for (size_t i = thunks.size(); i-- > 0;) {
    const ShardSlice *s = thunks[i].as<ShardSlice>();
    if (!s)
      continue;
    size_t j = i + 1;
    while (j < thunks.size() && !thunks[j].uses(s->to))
      ++j;
    std::rotate(thunks.begin() + i, thunks.begin() + i + 1, thunks.begin() + j);
  }
}

/// The last collective's bucket `op` depends on (-1: none).
static int64_t lastBucketRead(Operation *op, llvm::DenseMap<Operation *, int64_t> &memo) {
  if (isa<AllReduceOp, ReduceScatterOp, AllGatherOp>(op))
    return op->getAttrOfType<IntegerAttr>("bucket").getInt();
  auto [it, inserted] = memo.try_emplace(op, -1);
  if (!inserted)
    return it->second;
  int64_t last = -1;
  for (Value v : op->getOperands())
    if (Operation *def = v.getDefiningOp())
      last = std::max(last, lastBucketRead(def, memo));
  return memo[op] = last;
}

/// The deferred update regions, several to a kernel, bucket after bucket
/// (each waits only for its gradients' all-reduce): a region that reads
/// another's result, or another bucket's, starts the next kernel. The
/// sharded optimizer's all-gathers start right after the kernels that make
/// their chunks (before any region that reads them: the EMA teacher's).
void Planner::updateKernelThunks(MutableArrayRef<FusionPlan> deferred,
                                 std::vector<std::pair<AllGatherOp, Collective>> &gathers,
                                 Program &program) {
  llvm::DenseMap<Operation *, int64_t> bucketMemo;
  auto bucketOf = [&](const FusionPlan &p) {
    return lastBucketRead(const_cast<FusionOp &>(p.op), bucketMemo);
  };
  llvm::stable_sort(deferred, [&](const FusionPlan &a, const FusionPlan &b) {
    return bucketOf(a) < bucketOf(b);
  });
  auto startGathers = [&](llvm::function_ref<bool(AllGatherOp)> which) {
    for (auto &[op, c] : gathers)
      if (op && which(op)) {
        startCollective(std::move(c), program);
        op = nullptr;
      }
  };
  // A gather starts as soon as the kernels making its chunks have run, so
  // that it travels while the next buckets' updates run.
  llvm::DenseSet<Operation *> pending;
  for (const FusionPlan &p : deferred)
    pending.insert(p.op);
  auto ready = [&](AllGatherOp g) {
    return llvm::none_of(g->getOperands(),
                         [&](Value v) { return pending.contains(v.getDefiningOp()); });
  };
  SmallVector<FusionPlan> group;
  auto flush = [&] {
    if (group.empty())
      return;
    // Regions with the same body side by side, in order of first
    // appearance: the kernel loops over each such run as one.
    std::map<std::string, size_t> kindOf;
    llvm::DenseMap<Operation *, size_t> kind;
    for (const FusionPlan &p : group)
      kind[p.op] = kindOf.try_emplace(fusedBodyKey(p.op), kindOf.size()).first->second;
    llvm::stable_sort(group, [&](const FusionPlan &a, const FusionPlan &b) {
      return kind[a.op] < kind[b.op];
    });
    kernelThunk(group, program);
    for (const FusionPlan &p : group)
      pending.erase(p.op);
    group.clear();
    startGathers(ready);
  };
  for (FusionPlan &plan : deferred) {
    bool readsGroup = llvm::any_of(plan.op.getInputs(), [&](Value v) {
      return llvm::any_of(group, [&](const FusionPlan &g) { return v.getDefiningOp() == g.op; });
    });
    auto readsGather = [&](AllGatherOp g) {
      return llvm::any_of(plan.op.getInputs(), [&](Value v) { return v.getDefiningOp() == g; });
    };
    bool gathered = llvm::any_of(gathers, [&](auto &g) { return g.first && readsGather(g.first); });
    bool otherBucket = !group.empty() && bucketOf(group.front()) != bucketOf(plan);
    if (readsGroup || otherBucket || gathered)
      flush();
    if (gathered)
      startGathers(readsGather);
    group.push_back(std::move(plan));
  }
  flush();
  startGathers([](AllGatherOp) { return true; });
}

} // namespace kiln
