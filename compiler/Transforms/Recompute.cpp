//===- Recompute.cpp - activations recomputed in backward (kiln-recompute) ===//
//
// A forward value that backward reads lives from its definition to its
// last backward reader: the saved activations, which make the step's peak.
// This pass gives backward a copy recomputed just before its first
// backward reader instead, so the forward value dies at its last forward
// reader (the block's op order is the clock):
//   - checkpoint: ops of a module instance called with "checkpoint": true
//     (the module's kiln.checkpoint lists their paths) whose results only
//     the instance itself reads in forward; so only the instance's inputs
//     and outputs stay saved, as torch.utils.checkpoint does;
//   - auto (the default; train.recompute or --recompute none turns it
//     off): elementwise, view and row ops (activations, norms, casts,
//     dropout masks) of at least min-bytes, each with the cheap ops
//     it reads when recomputing them is cheaper than keeping them, taken
//     in order of bytes freed per FLOP when the bytes × time their value
//     no longer lives exceed the bytes × time their kept operands must
//     live longer, and at most kMaxFlopsPerByte FLOPs per byte freed.
// Clones are named recompute(NODE); a random draw recomputes the same
// numbers (its stream is counter-based).
//
//===----------------------------------------------------------------------===//
#include "compiler/Transforms/Passes.h"
#include "compiler/Transforms/StepUtils.h"

#include "Kiln/IR/KilnLocations.h"
#include "Kiln/IR/KilnOps.h"

#include "mlir/IR/IRMapping.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/DenseSet.h"

#include <limits>

namespace kiln {
#define GEN_PASS_DEF_KILNRECOMPUTE
#include "compiler/Transforms/Passes.h.inc"
} // namespace kiln

using namespace mlir;
using namespace kiln;

namespace {

/// Auto recomputes no more than this many FLOPs per byte it frees.
constexpr double kMaxFlopsPerByte = 16;
/// How many cheap producers deep auto follows an operand it would rather
/// recompute than keep (batch norm's normalisation and ReLU: 6 ops).
constexpr int kMaxDepth = 8;

int64_t bytesOf(Value v) {
  auto t = dyn_cast<RankedTensorType>(v.getType());
  return t ? t.getNumElements() * ((t.getElementTypeBitWidth() + 7) / 8) : 0;
}

bool isSource(Operation *op) {
  return isa<ParamOp, StateOp, InputOp, ScheduleOp, ConstantOp>(op);
}

/// Ops whose results a clone reproduces exactly.
bool recomputable(Operation *op) {
  return op->getNumRegions() == 0 && !isSource(op) &&
         (isa<RandomUniformOp>(op) || isMemoryEffectFree(op));
}

/// FLOPs per result element, for the ops auto considers; none for others
/// (GEMMs, convolutions, pools and reductions only under checkpoint).
std::optional<double> autoFlopsPerElement(Operation *op) {
  if (isa<ExpOp, LogOp, TanhOp, SigmoidOp, ErfOp, ExpM1Op, PowOp, GeluOp>(op))
    return 20;
  if (isa<DivOp, SqrtOp, RsqrtOp>(op))
    return 4;
  if (isElementwiseMap(op))
    return 1;
  if (isa<ReshapeOp, TransposeOp, BroadcastOp, SliceOp, ConcatOp, SplitOp, PadOp>(op))
    return 0;
  if (isa<LayerNormOp, SoftmaxOp, LogSoftmaxOp, L2NormalizeOp, RandomUniformOp>(op))
    return 10;
  return std::nullopt;
}

double flopsOf(Operation *op) {
  double n = 0;
  for (Value r : op->getResults())
    if (auto t = dyn_cast<RankedTensorType>(r.getType()))
      n += t.getNumElements();
  return n * autoFlopsPerElement(op).value_or(1);
}

/// "a.b.c" from "grad(a.b.c)" or "recompute(low(a.b.c))".
StringRef plainNode(StringRef name) {
  while (name.ends_with(")") && name.contains('('))
    name = name.drop_front(name.find('(') + 1).drop_back();
  return name;
}

struct Recompute : kiln::impl::KilnRecomputeBase<Recompute> {
  using KilnRecomputeBase::KilnRecomputeBase;

  llvm::DenseMap<Operation *, int64_t> pos;
  int64_t backwardStart = 0;
  llvm::DenseMap<Value, int64_t> lastForwardUse, firstBackwardUse, lastUse;
  llvm::SetVector<Operation *> recomputed;
  /// Where each recomputed op's clone will be: before the first backward
  /// reader of its results or of a recomputed reader's.
  llvm::DenseMap<Operation *, int64_t> clonedAt;

  bool forward(Operation *op) { return pos.lookup(op) < backwardStart; }

  /// Whether `v` is kept whatever this pass does (parameters, state,
  /// inputs, constants, backward's own values).
  bool free(Value v) {
    Operation *d = v.getDefiningOp();
    return !d || isSource(d) || !forward(d);
  }

  /// `v` read in backward at `at`: it lives until then.
  void readAt(Value v, int64_t at) {
    auto [it, fresh] = firstBackwardUse.try_emplace(v, at);
    if (!fresh)
      it->second = std::min(it->second, at);
    lastUse[v] = std::max(lastUse.lookup(v), at);
  }

  /// `ops` recomputed: their values die in forward, their clones run at
  /// `clonedAt`, and the operands they keep are read there.
  void recompute(ArrayRef<Operation *> ops) {
    for (Operation *op : llvm::reverse(ops)) {
      int64_t at = std::numeric_limits<int64_t>::max();
      for (Value r : op->getResults()) {
        if (auto it = firstBackwardUse.find(r); it != firstBackwardUse.end())
          at = std::min(at, it->second);
        for (Operation *user : r.getUsers())
          if (auto c = clonedAt.find(user); c != clonedAt.end())
            at = std::min(at, c->second);
        lastUse[r] = lastForwardUse.lookup(r);
      }
      clonedAt[op] = at;
      recomputed.insert(op);
    }
    for (Operation *op : ops)
      if (clonedAt[op] != std::numeric_limits<int64_t>::max())
        readOperandsAt(op, clonedAt[op]);
  }

  /// `op`'s clone runs at `at`: the clones it reads move up there, the
  /// values it keeps live until then.
  void readOperandsAt(Operation *op, int64_t at) {
    for (Value x : op->getOperands()) {
      if (free(x))
        continue;
      if (Operation *d = x.getDefiningOp(); recomputed.contains(d))
        moveUp(d, at);
      else
        readAt(x, at);
    }
  }

  /// Bytes × time by which moving recomputed `op`'s clone (and the clones
  /// it reads) up to `at` makes them live longer.
  double moveCost(Operation *op, int64_t at, llvm::DenseSet<Operation *> &seen) {
    if (clonedAt[op] <= at || !seen.insert(op).second)
      return 0;
    double cost = 0;
    for (Value r : op->getResults())
      cost += double(bytesOf(r)) * (clonedAt[op] - at);
    for (Value x : op->getOperands())
      if (Operation *d = x.getDefiningOp(); d && recomputed.contains(d))
        cost += moveCost(d, at, seen);
    return cost;
  }

  /// Moves recomputed `op`'s clone, and those it reads, up to `at`.
  void moveUp(Operation *op, int64_t at) {
    if (clonedAt[op] <= at)
      return;
    clonedAt[op] = at;
    readOperandsAt(op, at);
  }

  struct Plan {
    double extraLife = 0; // bytes × op steps the kept operands live longer
    double flops = 0;
    SmallVector<Operation *> ops; // recomputed, producers first
    SmallVector<Value> kept;
  };

  /// How to recompute `op` at `at`: each operand kept (live until `at`) or,
  /// when that costs less, recomputed too.
  Plan plan(Operation *op, int64_t at, int depth) {
    Plan p;
    p.flops = flopsOf(op);
    for (Value x : op->getOperands()) {
      if (free(x) || llvm::is_contained(p.kept, x) || llvm::is_contained(p.ops, x.getDefiningOp()))
        continue;
      if (Operation *d = x.getDefiningOp(); recomputed.contains(d)) {
        // Its clone must exist by `at`: one made later moves earlier.
        llvm::DenseSet<Operation *> seen;
        p.extraLife += moveCost(d, at, seen);
        continue;
      }
      double keep = double(bytesOf(x)) * std::max<int64_t>(0, at - lastUse.lookup(x));
      Operation *d = x.getDefiningOp();
      if (keep > 0 && depth < kMaxDepth && recomputable(d) && autoFlopsPerElement(d) &&
          !llvm::is_contained(p.ops, d)) {
        Plan inner = plan(d, at, depth + 1);
        if (inner.extraLife < keep) {
          p.extraLife += inner.extraLife;
          p.flops += inner.flops;
          p.ops.append(inner.ops);
          p.kept.append(inner.kept);
          continue;
        }
      }
      p.extraLife += keep;
      p.kept.push_back(x);
    }
    p.ops.push_back(op);
    return p;
  }


  /// Checkpointed instances: ops inside one whose results only it reads
  /// in forward.
  void chooseCheckpointed(ArrayRef<Operation *> ops, ArrayAttr paths) {
    auto instance = [&](Operation *op) -> StringRef {
      NameLoc node = nodeName(op->getLoc());
      if (!node)
        return {};
      StringRef name = plainNode(node.getName().getValue()), best;
      for (Attribute a : paths) {
        StringRef p = cast<StringAttr>(a).getValue();
        if ((name == p || name.starts_with((p + ".").str())) && (best.empty() || p.size() < best.size()))
          best = p;
      }
      return best;
    };
    SmallVector<Operation *> inside;
    for (Operation *op : ops) {
      if (!forward(op) || !recomputable(op))
        continue;
      StringRef mine = instance(op);
      if (!mine.empty() && llvm::all_of(op->getUsers(), [&](Operation *user) {
            return !forward(user) || instance(user) == mine;
          }))
        inside.push_back(op);
    }
    recompute(inside);
  }

  /// The clone of `op` before `at`, made once, with its recomputed
  /// operands cloned first.
  Operation *materialize(Operation *op, Operation *at,
                         llvm::DenseMap<Operation *, Operation *> &clones) {
    if (Operation *c = clones.lookup(op))
      return c;
    IRMapping map;
    for (Value x : op->getOperands())
      if (Operation *d = x.getDefiningOp(); d && recomputed.contains(d))
        map.map(x, materialize(d, at, clones)->getResult(cast<OpResult>(x).getResultNumber()));
    OpBuilder b(at);
    Operation *c = b.clone(*op, map);
    c->setLoc(forNode(op->getLoc(), "recompute"));
    clones[op] = c;
    return c;
  }

  void runOnOperation() override {
    func::FuncOp func = getOperation();
    Block &block = func.getBody().front();
    // One instance may run on several functions in turn: nothing carries over.
    pos.clear();
    lastForwardUse.clear();
    firstBackwardUse.clear();
    lastUse.clear();
    recomputed.clear();
    clonedAt.clear();
    SmallVector<Operation *> ops;
    Operation *backward = firstBackwardOp(block);
    for (Operation &op : block) {
      pos[&op] = ops.size();
      ops.push_back(&op);
    }
    backwardStart = backward ? pos[backward] : -1;
    auto module = func->getParentOfType<ModuleOp>();
    auto paths = module ? module->getAttrOfType<ArrayAttr>("kiln.checkpoint") : nullptr;
    std::string mode = recomputeMode(module, this->mode);
    if (mode != "none" && mode != "auto") {
      func.emitError() << "unknown recompute mode '" << mode << "' (none or auto)";
      return signalPassFailure();
    }
    if (backwardStart < 0 || (mode == "none" && !paths))
      return; // no backward (the evaluation entry), or nothing asked for

    for (Operation *op : ops)
      for (Value r : op->getResults()) {
        int64_t last = pos[op], firstBack = -1;
        for (Operation *user : r.getUsers()) {
          int64_t at = pos[user];
          if (at < backwardStart)
            last = std::max(last, at);
          else if (firstBack < 0 || at < firstBack)
            firstBack = at;
          lastUse[r] = std::max(lastUse.lookup(r), at);
        }
        lastForwardUse[r] = last;
        if (forward(op) && firstBack >= 0)
          firstBackwardUse[r] = firstBack;
      }
    if (paths)
      chooseCheckpointed(ops, paths);

    if (mode == "auto") {
      // Saved values auto may recompute, most bytes freed per FLOP first.
      SmallVector<Value> saved;
      for (auto &[v, _] : firstBackwardUse) {
        Operation *d = v.getDefiningOp();
        if (d && !recomputed.contains(d) && recomputable(d) && autoFlopsPerElement(d) &&
            bytesOf(v) >= minBytes)
          saved.push_back(v);
      }
      auto perFlop = [](Value v) { return bytesOf(v) / std::max(1.0, flopsOf(v.getDefiningOp())); };
      llvm::sort(saved, [&](Value a, Value b) {
        if (perFlop(a) != perFlop(b))
          return perFlop(a) > perFlop(b);
        if (a.getDefiningOp() != b.getDefiningOp())
          return pos[a.getDefiningOp()] < pos[b.getDefiningOp()];
        return cast<OpResult>(a).getResultNumber() < cast<OpResult>(b).getResultNumber();
      });
      for (Value v : saved) {
        Operation *d = v.getDefiningOp();
        if (recomputed.contains(d))
          continue;
        int64_t at = firstBackwardUse[v];
        double freed = 0;
        for (Value r : d->getResults())
          if (firstBackwardUse.count(r))
            freed += double(bytesOf(r)) * (firstBackwardUse[r] - lastForwardUse[r]);
        Plan p = plan(d, at, 0);
        if (freed > p.extraLife && p.flops <= kMaxFlopsPerByte * bytesOf(v))
          recompute(p.ops);
      }
    }

    // Backward (everything from its first op on) reads the clones.
    llvm::DenseMap<Operation *, Operation *> clones;
    for (Operation *op : ArrayRef(ops).drop_front(backwardStart))
      for (OpOperand &use : op->getOpOperands())
        if (Operation *d = use.get().getDefiningOp(); d && recomputed.contains(d) && forward(d))
          use.set(materialize(d, op, clones)->getResult(
              cast<OpResult>(use.get()).getResultNumber()));
    // Recomputed ops nothing reads in forward any more, readers first.
    SmallVector<Operation *> unread(recomputed.begin(), recomputed.end());
    llvm::sort(unread, [&](Operation *a, Operation *b) { return pos[a] > pos[b]; });
    for (Operation *op : unread)
      if (op->use_empty())
        op->erase();
  }
};

} // namespace
