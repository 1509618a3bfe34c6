//===- Fuse.cpp - form kiln.fusion regions (kiln-fuse) ---------------------===//
//
// Greedy, in block order (ParallelAxis.h says what a region is):
//   - an op joins the region of an operand's producer when it keeps that
//     region's parallel axis and no operand from elsewhere depends on the
//     region (which would make a cycle); operands from several regions
//     with the same axis length merge them;
//   - a reduction over the parallel axis and local axes is split: the local
//     part joins, the rest is left for a later region; one over leading
//     axes that would run along the innermost is split likewise along its
//     outermost reduced axis (splitMultiAxisReduction);
//   - otherwise a compute op starts a region on its largest axis; ops on
//     scalars and small tensors (at most kSmallElements each) share one
//     single-iteration region when independent;
//   - single-use views (broadcast, reshape, transpose, slice) of a member's
//     operands are pulled in: inside a region they are only strides;
//   - a backward op does not join a forward region that starts before the
//     forward's last GEMM: it would run in forward and its result live
//     until backward (GELU's derivative beside GELU kept 2 buffers per
//     MLP where 1 will do); the loss's tail after that GEMM may mix.
// Regions of two or more ops become kiln.fusion ops; then each op that
// reads a region's result before the region runs moves down to just after
// it (mlir::sortTopologically would instead hoist every ready op above the
// first unready one: backward's recomputations and the derivatives that
// read only forward values ran in forward and lived until backward).
// Scalar constants a region reads are cloned inside.
//
//===----------------------------------------------------------------------===//
#include "compiler/Transforms/FusionRegion.h"
#include "compiler/Transforms/Passes.h"
#include "compiler/Transforms/ParallelAxis.h"
#include "compiler/Transforms/StepUtils.h"

#include "Kiln/IR/KilnLocations.h"
#include "Kiln/IR/KilnOps.h"

#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/DenseSet.h"

namespace kiln {
#define GEN_PASS_DEF_KILNFUSE
#include "compiler/Transforms/Passes.h.inc"
} // namespace kiln

using namespace mlir;
using namespace kiln;

namespace {

/// Tensors up to this size may run in a single-iteration region (scalars,
/// per-row partial sums, tiny tails); larger work keeps a parallel axis.
constexpr int64_t kSmallElements = 4096;
/// The scratch a single-iteration region may hold (its kernel's stack).
constexpr int64_t kSmallRegionBytes = 256 << 10;

/// Orders `block` so that each op follows its operands' producers, moving
/// only ops that read a value defined later: down, to just after it (its
/// readers then follow it in their order). Fails on a cycle.
LogicalResult sinkUnreadyOps(Block &block) {
  llvm::DenseSet<Operation *> placed;
  llvm::DenseMap<Operation *, SmallVector<Operation *>> waiting; // by producer
  SmallVector<Operation *> order, stack;
  for (Operation &next : block.without_terminator()) {
    stack.push_back(&next);
    while (!stack.empty()) {
      Operation *op = stack.pop_back_val();
      auto unplaced = llvm::find_if(op->getOperands(), [&](Value v) {
        Operation *d = v.getDefiningOp();
        return d && d->getBlock() == &block && !placed.contains(d);
      });
      if (unplaced != op->operand_end()) {
        waiting[(*unplaced).getDefiningOp()].push_back(op);
        continue;
      }
      order.push_back(op);
      placed.insert(op);
      if (auto it = waiting.find(op); it != waiting.end()) {
        stack.append(it->second.rbegin(), it->second.rend()); // first reader next
        waiting.erase(it);
      }
    }
  }
  if (!waiting.empty())
    return failure();
  for (Operation *op : order)
    op->moveBefore(block.getTerminator());
  return success();
}

struct Region {
  int64_t rows = 1; // 1: a single iteration
  int64_t bytes = 0; // scratch of its values
  SmallVector<Operation *> ops;
  Operation *first = nullptr, *last = nullptr; // the earliest and latest of `ops`
  Operation *firstComputed = nullptr; // the earliest that is not a view
  llvm::DenseMap<Value, int64_t> parallelDim;
  bool merged = false; // folded into another region
};

bool allSmall(Operation *op) {
  auto small = [](Value v) {
    return cast<RankedTensorType>(v.getType()).getNumElements() <= kSmallElements;
  };
  return llvm::all_of(op->getOperands(), small) && llvm::all_of(op->getResults(), small);
}

bool isView(Operation *op) {
  return isa<ReshapeOp, TransposeOp, SliceOp, BroadcastOp, StopGradientOp>(op);
}

struct Fuse : kiln::impl::KilnFuseBase<Fuse> {
  using KilnFuseBase::KilnFuseBase;

  std::vector<Region> regions;
  llvm::DenseMap<Operation *, size_t> regionOf;
  // independentBefore's answers, valid while `version` (bumped by every
  // change to a region) is the same.
  int64_t version = 0;
  llvm::DenseMap<size_t, std::pair<int64_t, Operation *>> boundary;
  llvm::DenseSet<Operation *> backward; // ops from the first grad(...) on
  Operation *forwardTail = nullptr;     // the forward's last GEMM or convolution

  /// Whether backward op `op` would run in forward in region `r`.
  bool pullsBackward(Operation *op, size_t r) {
    Operation *start = regions[r].firstComputed ? regions[r].firstComputed : regions[r].first;
    return backward.contains(op) && forwardTail && start->isBeforeInBlock(forwardTail);
  }

  /// "kiln.exp 'a', kiln.sum 'b'": each op of a region and its node.
  static std::string describeMembers(ArrayRef<Operation *> ops) {
    std::string text;
    llvm::raw_string_ostream os(text);
    llvm::interleaveComma(ops, os, [&](Operation *op) {
      os << op->getName();
      if (NameLoc node = nodeName(op->getLoc()))
        os << " '" << node.getName().getValue() << "'";
    });
    return text;
  }

  void remark(Operation *op, const Twine &why) {
    if (explain)
      op->emitRemark() << why;
  }

  std::optional<size_t> region(Value v) {
    Operation *d = v.getDefiningOp();
    auto it = d ? regionOf.find(d) : regionOf.end();
    return it == regionOf.end() ? std::nullopt : std::optional<size_t>(it->second);
  }

  void add(size_t r, Operation *op, int64_t dim) {
    for (Value v : op->getResults())
      regions[r].bytes += 4 * cast<RankedTensorType>(v.getType()).getNumElements();
    regions[r].ops.push_back(op);
    if (!regions[r].first || op->isBeforeInBlock(regions[r].first))
      regions[r].first = op;
    if (!isView(op) && (!regions[r].firstComputed || op->isBeforeInBlock(regions[r].firstComputed)))
      regions[r].firstComputed = op;
    if (!regions[r].last || regions[r].last->isBeforeInBlock(op))
      regions[r].last = op;
    ++version;
    regionOf[op] = r;
    for (Value v : op->getResults())
      regions[r].parallelDim[v] = dim;
  }

  /// An op before which nothing depends on region `r`: `r`'s first op,
  /// moved back to the first op of every region that runs across it (a
  /// region runs whole at its last op, so one that starts earlier may still
  /// read `r`). The block is in dependency order while the pass runs.
  Operation *independentBefore(size_t r) {
    auto [it, fresh] = boundary.try_emplace(r, version, nullptr);
    if (!fresh && it->second.first == version)
      return it->second.second;
    Operation *t = regions[r].first;
    for (bool moved = true; moved;) {
      moved = false;
      for (const Region &g : regions)
        if (!g.merged && g.first && g.first->isBeforeInBlock(t) && !g.last->isBeforeInBlock(t)) {
          t = g.first;
          moved = true;
        }
    }
    it->second = {version, t};
    return t;
  }

  /// Whether `v` (from outside region `r`) depends on a value of `r`,
  /// through ops outside it or through other regions (which run whole).
  /// The search stops at ops before independentBefore(r): without that, it
  /// walked back to the step's inputs from every operand (1.8 s of ViT-S/16
  /// DINO's compile).
  bool reaches(Value v, size_t r) {
    Operation *stop = independentBefore(r);
    llvm::SmallPtrSet<Operation *, 32> seen;
    SmallVector<Value> stack{v};
    while (!stack.empty()) {
      Value u = stack.pop_back_val();
      Operation *d = u.getDefiningOp();
      if (!d || !seen.insert(d).second)
        continue;
      auto q = regionOf.find(d);
      if (q != regionOf.end() && q->second == r)
        return true;
      if (d->isBeforeInBlock(stop))
        continue;
      if (q == regionOf.end()) {
        stack.append(d->operand_begin(), d->operand_end());
        continue;
      }
      for (Operation *m : regions[q->second].ops)
        for (Value o : m->getOperands())
          if (!region(o) || *region(o) != q->second)
            stack.push_back(o);
    }
    return false;
  }

  /// Whether region `a` reads region `b` through other ops (a direct read
  /// would become internal if they merged).
  bool regionReaches(size_t a, size_t b) {
    for (Operation *m : regions[a].ops)
      for (Value o : m->getOperands()) {
        auto r = region(o);
        if ((!r || (*r != a && *r != b)) && reaches(o, b))
          return true;
      }
    return false;
  }

  /// Moves region `from` into `into`.
  void merge(size_t into, size_t from) {
    Region &a = regions[into], &b = regions[from];
    for (Operation *op : b.ops)
      regionOf[op] = into;
    a.parallelDim.insert(b.parallelDim.begin(), b.parallelDim.end());
    a.bytes += b.bytes;
    a.ops.append(b.ops.begin(), b.ops.end());
    llvm::sort(a.ops, [](Operation *x, Operation *y) { return x->isBeforeInBlock(y); });
    a.first = a.ops.front();
    a.last = a.ops.back();
    auto computed = llvm::find_if(a.ops, [](Operation *op) { return !isView(op); });
    a.firstComputed = computed == a.ops.end() ? nullptr : *computed;
    ++version;
    b.ops.clear();
    b.merged = true;
  }

  /// Pulls single-use views of `op`'s operands into `op`'s region: inside
  /// a region a view is only strides, outside it would be a copy kernel.
  void absorbViews(Operation *op, size_t r) {
    for (unsigned i = 0; i < op->getNumOperands(); ++i) {
      Operation *v = op->getOperand(i).getDefiningOp();
      if (!v || !isView(v) || regionOf.count(v) || !v->hasOneUse())
        continue;
      int64_t rows = regions[r].rows;
      int64_t p = operandParallelDim(op, i, regions[r].parallelDim.lookup(op->getResult(0)), rows);
      bool legal = rows == 1 ? allSmall(v)
                             : p >= 0 && (isa<BroadcastOp>(v) ||
                                          operandParallelDim(v, 0, p, rows) >= 0);
      if (isa<BroadcastOp>(v) && rows > 1 && p < 0)
        legal = false;
      if (!legal)
        continue;
      add(r, v, rows == 1 ? -1 : p);
      absorbViews(v, r);
    }
  }

  /// Tries to put `op` into the regions of its operands (merged), else
  /// into one of them (the latest first); the region or none.
  std::optional<size_t> join(Operation *op, std::string &why) {
    SmallVector<size_t> all;
    for (Value v : op->getOperands())
      if (auto r = region(v); r && !llvm::is_contained(all, *r))
        all.push_back(*r);
    if (all.empty())
      return std::nullopt;
    if (auto r = joinRegions(op, all, why))
      return r;
    llvm::sort(all, [&](size_t a, size_t b) {
      return regions[b].ops.back()->isBeforeInBlock(regions[a].ops.back());
    });
    for (size_t r : all)
      if (all.size() > 1 && joinRegions(op, {r}, why))
        return r;
    return std::nullopt;
  }

  std::optional<size_t> joinRegions(Operation *op, ArrayRef<size_t> mine, std::string &why) {
    if (llvm::any_of(mine, [&](size_t r) { return pullsBackward(op, r); })) {
      why = "a backward op stays out of forward regions (its result would live until backward)";
      return std::nullopt;
    }
    int64_t rows = regions[mine.front()].rows;
    if (llvm::any_of(mine, [&](size_t r) { return regions[r].rows != rows; })) {
      why = "its operands come from regions with different parallel axes";
      return std::nullopt;
    }
    if (rows == 1 && (!allSmall(op) || regions[mine.front()].bytes > kSmallRegionBytes)) {
      why = "too large for a single-iteration region";
      return std::nullopt;
    }
    // No cycle: an operand from elsewhere must not depend on these regions,
    // and the regions merged must not depend on each other.
    for (Value v : op->getOperands()) {
      auto r = region(v);
      if (r && llvm::is_contained(mine, *r))
        continue;
      for (size_t m : mine)
        if (reaches(v, m)) {
          why = "an operand depends on the region through ops outside it";
          return std::nullopt;
        }
    }
    for (size_t a : mine)
      for (size_t b : mine)
        if (a != b && regionReaches(a, b)) {
          why = "its operands' regions depend on each other";
          return std::nullopt;
        }
    SmallVector<std::optional<int64_t>> dims;
    for (Value v : op->getOperands()) {
      auto r = region(v);
      dims.push_back(r && llvm::is_contained(mine, *r)
                         ? std::optional<int64_t>(regions[*r].parallelDim.lookup(v))
                         : std::nullopt);
    }
    auto dim = resultParallelDim(op, dims, rows, why);
    if (!dim)
      return std::nullopt;
    for (size_t r : mine.drop_front())
      merge(mine.front(), r);
    add(mine.front(), op, *dim);
    return mine.front();
  }

  /// sum(x, {p} ∪ local) -> sum(sum(x, local), {p'}): the inner half runs
  /// in parallel along p; the outer half is left for a later region.
  std::pair<Operation *, Operation *> splitReduction(Operation *op, int64_t p) {
    auto reduction = cast<ReductionOpInterface>(op);
    ArrayRef<int64_t> axes = reduction.getReducedAxes();
    bool keep = reduction.keepsReducedDims();
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
    if (backward.erase(op)) {
      backward.insert(first);
      backward.insert(second);
    }
    op->getResult(0).replaceAllUsesWith(second->getResult(0));
    op->erase();
    return {first, second};
  }

  /// A reduction over several axes, split (splitReduction) along
  ///  - the parallel axis of its operand's region: the inner half joins it;
  ///  - else its outermost reduced axis, when the reduction would start a
  ///    region of its own along x's innermost axis: each row's elements
  ///    would lie a row of x apart (a bias gradient over batch and tokens
  ///    read one cache line per element, 7 GB/s); the inner half runs
  ///    along the outer axis over contiguous rows.
  std::pair<Operation *, Operation *> splitMultiAxisReduction(Operation *op) {
    auto reduction = dyn_cast<ReductionOpInterface>(op);
    if (!reduction || reduction.getReducedAxes().size() < 2)
      return {};
    ArrayRef<int64_t> axes = reduction.getReducedAxes();
    auto r = region(op->getOperand(0));
    if (r && regions[*r].rows > 1) {
      int64_t p = regions[*r].parallelDim.lookup(op->getOperand(0));
      return llvm::is_contained(axes, p) ? splitReduction(op, p) : std::pair<Operation *, Operation *>{};
    }
    if (r)
      return {};
    auto x = cast<RankedTensorType>(op->getOperand(0).getType());
    int64_t outer = *llvm::min_element(axes), along = chooseParallelDim(op);
    if (along >= 0) // the result's axis as x's
      along = operandParallelDim(
          op, 0, along, cast<RankedTensorType>(op->getResult(0).getType()).getDimSize(along));
    if (x.getDimSize(outer) < 2 || along != x.getRank() - 1)
      return {};
    return splitReduction(op, outer);
  }

  void runOnOperation() override {
    // One instance may run on several functions in turn (always without
    // threading, by chance with it): nothing may carry over.
    regions.clear();
    regionOf.clear();
    boundary.clear();
    backward.clear();
    forwardTail = nullptr;
    Block &block = getOperation().getBody().front();
    SmallVector<Operation *> ops;
    Operation *firstBackward = firstBackwardOp(block);
    for (Operation &op : block) {
      ops.push_back(&op);
      if (firstBackward && (&op == firstBackward || !backward.empty()))
        backward.insert(&op);
      else if (isa<MatmulOp, Conv2dOp>(op))
        forwardTail = &op;
    }
    std::optional<size_t> lastSmall; // the latest single-iteration region
    std::vector<std::pair<Operation *, std::string>> outside; // views not joined, why
    for (size_t i = 0; i < ops.size(); ++i) {
      Operation *op = ops[i];
      if (regionOf.count(op) ||
          isa<ParamOp, StateOp, InputOp, ScheduleOp, ConstantOp, RandomUniformOp, LossOp,
              MetricOp, OutputOp, UpdateParamOp, UpdateStateOp, GradientOp, func::ReturnOp>(op))
        continue;
      if (auto [first, second] = splitMultiAxisReduction(op); first) {
        ops[i] = op = first; // then the outer half
        ops.insert(ops.begin() + i + 1, second);
      }
      std::string why, reason;
      if (!isFusible(op, reason)) {
        remark(op, "not fused: " + reason);
        continue;
      }
      if (auto r = join(op, why)) {
        absorbViews(op, *r);
        continue;
      }
      // Views and data movement join regions but do not start them; a
      // view may still be absorbed by its reader's region (said at the end).
      if (isView(op) || isa<PadOp, ConcatOp, SplitOp>(op)) {
        outside.push_back({op, why.empty() ? "a view or copy of values from memory" : why});
        continue;
      }
      int64_t dim = chooseParallelDim(op);
      int64_t rows = dim < 0 ? 1 : cast<RankedTensorType>(op->getResult(0).getType()).getDimSize(dim);
      if (rows == 1 && !allSmall(op)) {
        remark(op, "not fused: " + (why.empty() ? "no axis to run in parallel" : why));
        continue;
      }
      // Small independent work shares the latest single-iteration region.
      if (rows == 1 && lastSmall && !regions[*lastSmall].merged &&
          regions[*lastSmall].bytes <= kSmallRegionBytes && !pullsBackward(op, *lastSmall) &&
          llvm::none_of(op->getOperands(), [&](Value v) { return reaches(v, *lastSmall); })) {
        add(*lastSmall, op, -1);
        absorbViews(op, *lastSmall);
        continue;
      }
      if (!why.empty())
        remark(op, "starts a new region: " + why);
      regions.emplace_back();
      regions.back().rows = rows;
      add(regions.size() - 1, op, dim);
      absorbViews(op, regions.size() - 1);
      if (rows == 1)
        lastSmall = regions.size() - 1;
    }
    for (auto &[op, why] : outside)
      if (!regionOf.count(op))
        remark(op, "not fused: " + why);
    for (Region &r : regions) {
      if (r.merged)
        continue;
      if (r.ops.size() < 2) {
        if (!r.ops.empty())
          remark(r.ops.front(), "not fused: no fusible neighbour");
        continue;
      }
      llvm::sort(r.ops, [](Operation *x, Operation *y) { return x->isBeforeInBlock(y); });
      std::string members = describeMembers(r.ops);
      FusionOp fusion = buildFusion(r.ops, r.rows, r.parallelDim);
      if (explain)
        fusion.emitRemark() << "fused " << r.ops.size() << " ops over " << r.rows
                            << (r.rows == 1 ? " row: " : " rows: ") << members;
    }
    // Regions run where their last op was; ops that read their results
    // earlier in the block move after them.
    if (failed(sinkUnreadyOps(block))) {
      getOperation().emitError("kiln-fuse formed regions that depend on each other");
      return signalPassFailure();
    }
  }
};

} // namespace
