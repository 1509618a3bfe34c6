//===- CollectiveSchedule.cpp - where the all-reduces start and wait -----===//
#include "compiler/Codegen/Planner.h"
#include "compiler/Codegen/FusionKernel.h"

#include "Kiln/IR/KilnDTypes.h"

#include <map>

using namespace mlir;

namespace kiln {

/// The start of a bucket's all-reduce where the op stands: its operands
/// packed into a bucket buffer. The wait comes later (placeAllReduceWaits).
void Planner::startAllReduce(AllReduceOp op, ArrayRef<int64_t> operands,
                             llvm::DenseMap<Value, int64_t> &bufferOf, Program &program) {
  std::string name = "bucket " + std::to_string(op.getBucket());
  // A bucket holds its operands' type, f32 or bf16 (kiln-compress-all-reduce;
  // the manifest checks that every packed tensor has it).
  Type elem = getElementTypeOrSelf(op.getValues().front().getType());
  int64_t elements = op.getBytes() / elementBytes(*dtypeOf(elem));
  auto flat = RankedTensorType::get({elements}, elem);
  int64_t bucket = newBuffer(name, "bucket", flat, Region::Arena);
  AllReduceStart start;
  AllReduceWait wait;
  start.bucket = wait.bucket = op.getBucket();
  start.bucketBuffer = wait.bucketBuffer = bucket;
  start.tensors.assign(operands.begin(), operands.end());
  for (Value r : op.getResults()) {
    int64_t id = newBuffer(name, "temp", r.getType(), Region::Arena);
    bufferOf[r] = id;
    wait.tensors.push_back(id);
  }
  int64_t traffic = 2 * op.getBytes();
  pendingWaits.push_back({Thunk{wait, {thunkLabel(op)}, 0, traffic}, program.thunks.size()});
  program.thunks.push_back(Thunk{start, {thunkLabel(op)}, 0, traffic});
}

/// Each bucket's wait goes right before the first thunk that reads one of
/// its results (else at the end, for the sinks), so that the thunks between
/// run while the bucket is in flight.
void Planner::placeAllReduceWaits(Program &program) {
  std::vector<Thunk> thunks;
  std::vector<bool> placed(pendingWaits.size(), false);
  for (size_t i = 0; i < program.thunks.size(); ++i) {
    for (size_t w = 0; w < pendingWaits.size(); ++w) {
      auto &[wait, startIndex] = pendingWaits[w];
      bool reads = llvm::any_of(wait.as<AllReduceWait>()->tensors,
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

/// The last all-reduce bucket `op` depends on (-1: none).
static int64_t lastBucketRead(Operation *op, llvm::DenseMap<Operation *, int64_t> &memo) {
  if (auto r = dyn_cast<AllReduceOp>(op))
    return r.getBucket();
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
/// another's result, or another bucket's, starts the next kernel.
void Planner::updateKernelThunks(MutableArrayRef<FusionPlan> deferred, Program &program) {
  llvm::DenseMap<Operation *, int64_t> bucketMemo;
  auto bucketOf = [&](const FusionPlan &p) {
    return lastBucketRead(const_cast<FusionOp &>(p.op), bucketMemo);
  };
  llvm::stable_sort(deferred, [&](const FusionPlan &a, const FusionPlan &b) {
    return bucketOf(a) < bucketOf(b);
  });
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
    group.clear();
  };
  for (FusionPlan &plan : deferred) {
    bool readsGroup = llvm::any_of(plan.op.getInputs(), [&](Value v) {
      return llvm::any_of(group, [&](const FusionPlan &g) { return v.getDefiningOp() == g.op; });
    });
    bool otherBucket = !group.empty() && bucketOf(group.front()) != bucketOf(plan);
    if (readsGroup || otherBucket)
      flush();
    group.push_back(std::move(plan));
  }
  flush();
}

} // namespace kiln
