//===- Fuse.cpp - form kiln.fusion regions (kiln-fuse) ---------------------===//
//
// Greedy, in block order (ParallelAxis.h says what a region is):
//   - an op joins the open region of an operand's producer when it keeps
//     that region's parallel axis; operands from several open regions with
//     the same axis length merge them;
//   - a reduction over the parallel axis and local axes is split: the local
//     part joins, the rest is left for a later region;
//   - otherwise a fusible op starts a region, on its largest axis; ops on
//     scalars and small tensors (at most kSmallElements each) start a
//     single-iteration region instead;
//   - a region closes when any of its values is used outside it.
// Regions of two or more ops become kiln.fusion ops where their last op
// was; scalar constants they read are cloned inside.
//
//===----------------------------------------------------------------------===//
#include "compiler/Transforms/Passes.h"
#include "compiler/Transforms/ParallelAxis.h"

#include "Kiln/IR/KilnOps.h"

#include "mlir/IR/IRMapping.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/SetVector.h"

namespace kiln {
#define GEN_PASS_DEF_KILNFUSE
#include "compiler/Transforms/Passes.h.inc"
} // namespace kiln

using namespace mlir;
using namespace kiln;

namespace {

/// Tensors up to this size may run in a single-iteration region.
constexpr int64_t kSmallElements = 1 << 16;

struct Region {
  int64_t rows = 1; // 1: a single iteration
  SmallVector<Operation *> ops;
  llvm::DenseMap<Value, int64_t> parallelDim;
  bool closed = false;
  bool merged = false; // folded into another region
};

bool isScalarConstant(Value v) {
  auto c = v.getDefiningOp<ConstantOp>();
  return c && cast<RankedTensorType>(c.getType()).getNumElements() == 1;
}

bool allSmall(Operation *op) {
  auto small = [](Value v) {
    return cast<RankedTensorType>(v.getType()).getNumElements() <= kSmallElements;
  };
  return llvm::all_of(op->getOperands(), small) && llvm::all_of(op->getResults(), small);
}

struct Fuse : kiln::impl::KilnFuseBase<Fuse> {
  using KilnFuseBase::KilnFuseBase;

  std::vector<Region> regions;
  llvm::DenseMap<Value, size_t> regionOf;

  void remark(Operation *op, const Twine &why) {
    if (explain)
      op->emitRemark() << why;
  }

  void add(size_t r, Operation *op, int64_t dim) {
    regions[r].ops.push_back(op);
    for (Value v : op->getResults()) {
      regions[r].parallelDim[v] = dim;
      regionOf[v] = r;
    }
  }

  /// Moves region `from` into `into` (both open, same axis length).
  void merge(size_t into, size_t from) {
    Region &a = regions[into], &b = regions[from];
    for (Operation *op : b.ops)
      for (Value v : op->getResults())
        regionOf[v] = into;
    a.parallelDim.insert(b.parallelDim.begin(), b.parallelDim.end());
    a.ops.append(b.ops.begin(), b.ops.end());
    llvm::sort(a.ops, [](Operation *x, Operation *y) { return x->isBeforeInBlock(y); });
    b.ops.clear();
    b.merged = true;
  }

  /// The open regions whose values `op` reads.
  SmallVector<size_t> openRegionsOf(Operation *op) {
    SmallVector<size_t> out;
    for (Value v : op->getOperands()) {
      auto it = regionOf.find(v);
      if (it != regionOf.end() && !regions[it->second].closed && !llvm::is_contained(out, it->second))
        out.push_back(it->second);
    }
    return out;
  }

  /// Tries to put `op` into an open region of its operands; true if it did.
  bool join(Operation *op, std::string &why) {
    SmallVector<size_t> open = openRegionsOf(op);
    if (open.empty())
      return false;
    int64_t rows = regions[open.front()].rows;
    if (llvm::any_of(open, [&](size_t r) { return regions[r].rows != rows; })) {
      why = "its operands come from regions with different parallel axes";
      return false;
    }
    SmallVector<std::optional<int64_t>> dims;
    for (Value v : op->getOperands()) {
      auto it = regionOf.find(v);
      dims.push_back(it != regionOf.end() && llvm::is_contained(open, it->second)
                         ? std::optional<int64_t>(regions[it->second].parallelDim.lookup(v))
                         : std::nullopt);
    }
    if (rows == 1 && !allSmall(op)) {
      why = "too large for a single-iteration region";
      return false;
    }
    auto dim = resultParallelDim(op, dims, rows, why);
    if (!dim)
      return false;
    for (size_t r : ArrayRef(open).drop_front())
      merge(open.front(), r);
    add(open.front(), op, *dim);
    return true;
  }

  /// sum(x, {p} ∪ local) -> sum(sum(x, local), {p'}) when x carries the
  /// parallel axis p: the inner reduction can join x's region.
  std::pair<Operation *, Operation *> splitParallelReduction(Operation *op) {
    if (!isa<SumOp, MeanOp, ReduceMaxOp, LogSumExpOp>(op))
      return {};
    auto it = regionOf.find(op->getOperand(0));
    if (it == regionOf.end() || regions[it->second].closed || regions[it->second].rows == 1)
      return {};
    int64_t p = regions[it->second].parallelDim.lookup(op->getOperand(0));
    auto axes = op->getAttrOfType<DenseI64ArrayAttr>("axes").asArrayRef();
    if (!llvm::is_contained(axes, p) || axes.size() < 2)
      return {};
    bool keep = op->getAttrOfType<BoolAttr>("keepdim") && op->getAttrOfType<BoolAttr>("keepdim").getValue();
    SmallVector<int64_t> local;
    for (int64_t a : axes)
      if (a != p)
        local.push_back(a);
    int64_t outerAxis = keep ? p : p - llvm::count_if(local, [&](int64_t a) { return a < p; });
    OpBuilder b(op);
    auto attrs = [&](ArrayRef<int64_t> ax) {
      return SmallVector<NamedAttribute>{b.getNamedAttr("axes", b.getDenseI64ArrayAttr(ax)),
                                         b.getNamedAttr("keepdim", b.getBoolAttr(keep))};
    };
    // A reduction of the same kind as `op` (types inferred by the op).
    auto reduce = [&](Value x, ArrayRef<int64_t> ax) -> Operation * {
      auto a = attrs(ax);
      if (isa<SumOp>(op))
        return b.create<SumOp>(op->getLoc(), ValueRange{x}, a);
      if (isa<MeanOp>(op))
        return b.create<MeanOp>(op->getLoc(), ValueRange{x}, a);
      if (isa<ReduceMaxOp>(op))
        return b.create<ReduceMaxOp>(op->getLoc(), ValueRange{x}, a);
      return b.create<LogSumExpOp>(op->getLoc(), ValueRange{x}, a);
    };
    Operation *first = reduce(op->getOperand(0), local);
    Operation *second = reduce(first->getResult(0), {outerAxis});
    op->getResult(0).replaceAllUsesWith(second->getResult(0));
    op->erase();
    return {first, second};
  }

  void runOnOperation() override {
    Block &block = getOperation().getBody().front();
    SmallVector<Operation *> ops;
    for (Operation &op : block)
      ops.push_back(&op);
    for (size_t i = 0; i < ops.size(); ++i) {
      Operation *op = ops[i];
      if (isa<ParamOp, StateOp, InputOp, ScheduleOp, ConstantOp, RandomUniformOp, LossOp,
              MetricOp, OutputOp, UpdateParamOp, UpdateStateOp, GradientOp, func::ReturnOp>(op)) {
        closeUsers(op, -1);
        continue;
      }
      if (auto [first, second] = splitParallelReduction(op); first) {
        // Process the two halves in turn.
        ops[i] = op = first;
        ops.insert(ops.begin() + i + 1, second);
      }
      std::string why, reason;
      if (!isFusible(op, reason)) {
        remark(op, "not fused: " + reason);
        closeUsers(op, -1);
        continue;
      }
      if (join(op, why)) {
        closeUsers(op, regionOf.lookup(op->getResult(0)));
        continue;
      }
      closeUsers(op, -1);
      // Views and data movement join regions but do not start them: on
      // values from memory they are a strided read only for the kernel
      // that consumes them, which may not keep their axis.
      if (isa<ReshapeOp, TransposeOp, SliceOp, PadOp, ConcatOp, SplitOp, BroadcastOp,
              StopGradientOp>(op)) {
        remark(op, "not fused: " + (why.empty() ? "a view or copy of values from memory" : why));
        continue;
      }
      int64_t dim = chooseParallelDim(op);
      int64_t rows = dim < 0 ? 1 : cast<RankedTensorType>(op->getResult(0).getType()).getDimSize(dim);
      if (rows == 1 && !allSmall(op)) {
        remark(op, "not fused: " + (why.empty() ? "no axis to run in parallel" : why));
        continue;
      }
      if (!why.empty())
        remark(op, "starts a new region: " + why);
      regions.emplace_back();
      regions.back().rows = rows;
      add(regions.size() - 1, op, dim);
    }
    for (Region &r : regions) {
      if (r.merged)
        continue;
      if (r.ops.size() < 2) {
        if (!r.ops.empty())
          remark(r.ops.front(), "not fused: no fusible neighbour");
        continue;
      }
      build(r);
    }
  }

  /// Closes the open regions whose values `op` reads, except `own`.
  void closeUsers(Operation *op, int64_t own) {
    for (Value v : op->getOperands()) {
      auto it = regionOf.find(v);
      if (it == regionOf.end() || (int64_t)it->second == own || regions[it->second].closed)
        continue;
      regions[it->second].closed = true;
      remark(regions[it->second].ops.back(),
             "region closes here: '" + op->getName().getStringRef().str() + "' reads its values");
    }
  }

  /// Replaces the region's ops by one kiln.fusion after its last op.
  void build(Region &r) {
    llvm::SmallPtrSet<Operation *, 16> members(r.ops.begin(), r.ops.end());
    llvm::SetVector<Value> inputs, outputs;
    for (Operation *op : r.ops) {
      for (Value v : op->getOperands())
        if (!members.count(v.getDefiningOp()) && !isScalarConstant(v))
          inputs.insert(v);
      for (Value res : op->getResults())
        if (llvm::any_of(res.getUsers(), [&](Operation *u) { return !members.count(u); }))
          outputs.insert(res);
    }
    Operation *last = r.ops.back();
    OpBuilder b(last->getContext());
    b.setInsertionPointAfter(last);
    SmallVector<Type> types;
    for (Value v : outputs)
      types.push_back(v.getType());
    auto fusion = b.create<FusionOp>(last->getLoc(), types, inputs.getArrayRef());
    fusion->setAttr("rows", b.getI64IntegerAttr(r.rows));
    Block *body = new Block();
    fusion.getBody().push_back(body);
    IRMapping map;
    for (Value v : inputs)
      map.map(v, body->addArgument(v.getType(), v.getLoc()));
    OpBuilder inner = OpBuilder::atBlockEnd(body);
    for (Operation *op : r.ops) {
      for (Value v : op->getOperands())
        if (isScalarConstant(v) && !map.contains(v))
          map.map(v, inner.clone(*v.getDefiningOp())->getResult(0));
      Operation *copy = inner.clone(*op, map);
      copy->setAttr(kParallelDimAttr, inner.getI64IntegerAttr(r.parallelDim.lookup(op->getResult(0))));
    }
    SmallVector<Value> yielded;
    for (Value v : outputs)
      yielded.push_back(map.lookup(v));
    inner.create<YieldOp>(fusion.getLoc(), yielded);
    for (auto [i, v] : llvm::enumerate(outputs)) {
      Value out = v;
      out.replaceUsesWithIf(fusion.getResult(i),
                            [&](OpOperand &use) { return !members.count(use.getOwner()); });
    }
    for (Operation *op : llvm::reverse(r.ops))
      op->erase();
  }
};

} // namespace
