//===- FusedBody.h - the ops of a kiln.fusion on one row's local tensors -*- C++ -*-===//
//
// Shared by the CPU kernel (FusionKernel.cpp: serial loops, scratch on the
// stack or, when large, in the thread's workspace) and the CUDA kernel
// (CudaKernels.cpp: loops spread over a block, block-wide folds, scratch in
// a global workspace): the same code turns each op of the region into
// loop nests over the row's local tensors;
// the subclasses say how loops, folds and scratch are made.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_CODEGEN_FUSEDBODY_H
#define KILN_CODEGEN_FUSEDBODY_H

#include "compiler/Codegen/KernelEmitter.h"
#include "compiler/Transforms/ParallelAxis.h"

#include "Kiln/IR/KilnOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/SmallPtrSet.h"

#include <functional>

namespace kiln {
namespace fused {

using namespace mlir;

/// How a block-wide fold combines the threads' partial results.
enum class Combine { Add, Max, Min };


using Shape = SmallVector<int64_t>;

/// A value's local part for one row: elements at base + Σ coord·stride of
/// `memref`, or one SSA scalar, or (`lazy`) computed where it is read from
/// the same local coordinates (an elementwise op whose only reader is
/// another of the same shape, or a sum over it: the chain runs in one loop,
/// in registers). A lazy view's `reads` are the strides, over its own
/// coordinates, of every load it makes (for collapse).
struct View {
  Value memref, base;
  Shape shape, strides;
  Value scalar;
  std::function<Value(ValueRange)> lazy;
  std::vector<Shape> reads;
};

inline Shape fullShape(Value v) {
  auto s = cast<RankedTensorType>(v.getType()).getShape();
  return Shape(s.begin(), s.end());
}

inline Shape dropDim(ArrayRef<int64_t> s, int64_t p) {
  Shape out;
  for (int64_t d = 0; d < (int64_t)s.size(); ++d)
    if (d != p)
      out.push_back(s[d]);
  return out;
}

/// The local index of full dim `d` when the parallel dim is `p`.
inline int64_t localIndex(int64_t d, int64_t p) { return p >= 0 && d > p ? d - 1 : d; }

class FusedBody {
public:
  /// `emitter` places the CPU kernel's scratch (the CUDA body has its own).
  FusedBody(FusionOp fusion, OpBuilder &b, OpBuilder &entry, ValueRange memrefs, Value row,
            int64_t rows, KernelEmitter *emitter = nullptr)
      : fusion(fusion), b(b), entry(entry), memrefs(memrefs), row(row), rows(rows),
        loc(fusion.getLoc()), emitter(emitter) {}

  virtual ~FusedBody() = default;
  LogicalResult run();

protected:
  // Index arithmetic and loops.
  Value idx(int64_t v) { return b.create<arith::ConstantIndexOp>(loc, v); }
  Value f32(double v) { return b.create<arith::ConstantOp>(loc, b.getFloatAttr(b.getF32Type(), v)); }
  Value at(const View &v, ValueRange coords, ArrayRef<int64_t> strides) {
    Value i = v.base;
    for (auto [c, s] : llvm::zip(coords, strides))
      if (s != 0)
        i = b.create<arith::AddIOp>(loc, i, s == 1 ? c : b.create<arith::MulIOp>(loc, c, idx(s)));
    return i;
  }
  Value load(const View &v, ValueRange coords) { return load(v, coords, v.strides); }
  Value load(const View &v, ValueRange coords, ArrayRef<int64_t> strides) {
    if (v.scalar)
      return v.scalar;
    if (v.lazy)
      return v.lazy(coords); // read at its own coordinates (see isLazy)
    return loadElement(v.memref, at(v, coords, strides));
  }
  void store(const View &v, ValueRange coords, Value x) {
    storeElement(x, v.memref, at(v, coords, v.strides));
  }
  /// A bf16 or f16 element lives in registers as f32: a load widens it
  /// (exactly), a store rounds it to nearest even.
  Value loadElement(Value memref, Value index) {
    Value x = b.create<memref::LoadOp>(loc, memref, index);
    if (isLowFloat(x.getType()))
      return b.create<arith::ExtFOp>(loc, b.getF32Type(), x);
    return x;
  }
  void storeElement(Value x, Value memref, Value index) {
    Type elem = cast<MemRefType>(memref.getType()).getElementType();
    auto widened = x.getDefiningOp<arith::ExtFOp>();
    if (widened && widened.getIn().getType() == elem)
      x = widened.getIn(); // rounding a widened value gives it back (LLVM keeps the round trip for NaNs)
    else if (isLowFloat(elem))
      x = b.create<arith::TruncFOp>(loc, elem, x);
    b.create<memref::StoreOp>(loc, x, memref, index);
  }
  static bool isLowFloat(Type t) { return isa<FloatType>(t) && !t.isF32(); }
  /// The register value of an op's result computed as `x` (f32): rounded
  /// to the result's element type when that is bf16 or f16, so a value
  /// computed in registers equals one stored and read back.
  Value rounded(Value result, Value x) {
    Type elem = getElementTypeOrSelf(result.getType());
    if (!isLowFloat(elem))
      return x;
    Value low = b.create<arith::TruncFOp>(loc, elem, x);
    return b.create<arith::ExtFOp>(loc, b.getF32Type(), low);
  }
  /// A store of a value every thread of a GPU block holds (one writes it).
  virtual void storeUniform(Value x, Value memref, Value index) {
    storeElement(x, memref, index);
  }
  /// After each op: GPU threads wait for each other's writes.
  virtual void sync() {}
  /// Whether a reduction across rows (the last local dim kept, as a bias
  /// gradient's sum over the batch) adds whole rows into the result in
  /// place, the inner loop along contiguous memory (CPU: it vectorises),
  /// rather than each kept element folding its column in a register (GPU:
  /// a thread per column, reads coalesced across the warp, one store).
  virtual bool accumulatesWholeRows() const { return true; }
  /// Loops whose iterations are independent (spread over a GPU block).
  virtual void loops(ArrayRef<int64_t> shape, const std::function<void(ValueRange)> &fn) {
    serialLoops(shape, fn);
  }
  /// Loops every thread of a GPU block runs through in step (their bodies
  /// may hold block-wide folds).
  void serialLoops(ArrayRef<int64_t> shape, const std::function<void(ValueRange)> &fn) {
    SmallVector<Value> coords;
    std::function<void(size_t)> rec = [&](size_t d) {
      if (d == shape.size())
        return fn(coords);
      b.create<scf::ForOp>(loc, idx(0), idx(shape[d]), idx(1), ValueRange{},
                           [&](OpBuilder &, Location, Value iv, ValueRange) {
                             coords.push_back(iv);
                             rec(d + 1);
                             coords.pop_back();
                             b.create<scf::YieldOp>(loc);
                           });
    };
    rec(0);
  }
  /// `loops` over `shape` when every access in the body is affine in the
  /// coordinates with one of `accesses`' strides: adjacent dims that every
  /// access walks contiguously run as one loop along the inner one, the
  /// outer held at 0 (the same addresses; a batch norm channel walks its
  /// 28×28 planes in loops of 784 rather than 28).
  void affineLoops(ArrayRef<int64_t> shape, ArrayRef<Shape> accesses,
                   const std::function<void(ValueRange)> &fn) {
    Shape extents = collapse(shape, accesses);
    loops(loopsOf(extents), [&](ValueRange c) { fn(expand(extents, c)); });
  }
  /// `fold` likewise.
  Value affineFold(ArrayRef<int64_t> shape, ArrayRef<Shape> accesses, Value init, Combine kind,
                   const std::function<Value(Value, ValueRange)> &step) {
    Shape extents = collapse(shape, accesses);
    return fold(loopsOf(extents), init, kind,
                [&](Value acc, ValueRange c) { return step(acc, expand(extents, c)); });
  }
  /// Each dim's extent after collapsing: a dim merged into the next one has
  /// extent 1, and the innermost dim of each merged run the run's product.
  static Shape collapse(ArrayRef<int64_t> shape, ArrayRef<Shape> accesses) {
    Shape extents(shape.begin(), shape.end());
    int64_t inner = (int64_t)shape.size() - 1; // the loop of d + 1's group
    for (int64_t d = inner - 1; d >= 0; --d) {
      if (llvm::all_of(accesses, [&](const Shape &s) { return s[d] == s[d + 1] * shape[d + 1]; })) {
        extents[inner] *= extents[d];
        extents[d] = 1;
      } else {
        inner = d;
      }
    }
    return extents;
  }
  /// The loops: the dims of extent above 1 (the others' coordinate is 0).
  static Shape loopsOf(ArrayRef<int64_t> extents) {
    Shape loops;
    for (int64_t n : extents)
      if (n != 1)
        loops.push_back(n);
    return loops;
  }
  /// Every dim's coordinate from the loops' coordinates `c`.
  SmallVector<Value> expand(ArrayRef<int64_t> extents, ValueRange c) {
    SmallVector<Value> full;
    size_t k = 0;
    for (int64_t n : extents)
      full.push_back(n == 1 ? idx(0) : c[k++]);
    return full;
  }
  /// Every access an op makes through `v` read with `strides`.
  static void addReads(std::vector<Shape> &accesses, const View &v, const Shape &strides) {
    if (v.scalar)
      return;
    if (v.lazy)
      accesses.insert(accesses.end(), v.reads.begin(), v.reads.end());
    else
      accesses.push_back(strides);
  }

  /// A fold over the iterations of `shape`, block-wide on a GPU.
  virtual Value fold(ArrayRef<int64_t> shape, Value init, Combine kind,
                     const std::function<Value(Value, ValueRange)> &step) {
    return serialFold(shape, init, [&](ValueRange acc, ValueRange c) -> SmallVector<Value> {
      return {step(acc[0], c)};
    })[0];
  }
  /// A fold one thread runs alone, carrying several values (a pooling
  /// window inside a per-element loop).
  SmallVector<Value> serialFold(
      ArrayRef<int64_t> shape, ValueRange init,
      const std::function<SmallVector<Value>(ValueRange, ValueRange)> &step) {
    SmallVector<Value> coords;
    std::function<SmallVector<Value>(size_t, ValueRange)> rec =
        [&](size_t d, ValueRange acc) -> SmallVector<Value> {
      if (d == shape.size())
        return step(acc, coords);
      auto loop = b.create<scf::ForOp>(loc, idx(0), idx(shape[d]), idx(1), acc,
                                       [&](OpBuilder &, Location, Value iv, ValueRange args) {
                                         coords.push_back(iv);
                                         SmallVector<Value> next = rec(d + 1, args);
                                         coords.pop_back();
                                         b.create<scf::YieldOp>(loc, next);
                                       });
      return SmallVector<Value>(loop.getResults());
    };
    return rec(0, init);
  }

  /// Where `v`'s local part is built: straight in its region output when it
  /// is yielded (see findEarlyOutputs), else in scratch.
  View scratch(Value v) {
    auto it = earlyOutputs.find(v);
    if (it == earlyOutputs.end())
      return allocScratch(v);
    View out = outputView(it->second);
    if (fullShape(v) != fullShape(fusion.getResult(it->second))) {
      // A reshape's input (see laidOutAs): both local parts are contiguous.
      out.shape = dropDim(fullShape(v), parallelDim(v));
      out.strides = rowMajorStrides(out.shape);
    }
    return out;
  }

  /// A contiguous scratch tensor for `v`'s local part.
  View allocScratch(Value v) {
    return allocScratch(dropDim(fullShape(v), parallelDim(v)),
                        cast<RankedTensorType>(v.getType()).getElementType());
  }
  /// A contiguous scratch tensor of `local` elements of `elem`.
  virtual View allocScratch(ArrayRef<int64_t> local, Type elem) {
    int64_t n = 1;
    for (int64_t d : local)
      n *= d;
    Value m = emitter->scratch(entry, elem, n);
    Shape shape(local.begin(), local.end());
    return View{m, idx(0), shape, rowMajorStrides(shape), nullptr};
  }

  int64_t parallelDim(Value v) {
    if (rows == 1)
      return -1;
    if (auto r = dyn_cast<OpResult>(v))
      if (auto a = r.getOwner()->getAttrOfType<IntegerAttr>(kParallelDimAttr))
        return a.getInt();
    return -1; // a region input: see operandParallelDim
  }

  int64_t operandParallelDim(Operation *op, unsigned i) {
    return rows == 1 ? -1
                     : kiln::operandParallelDim(op, i, parallelDim(op->getResult(0)), rows);
  }

  /// Operand `i` of `op` as a view (a region input is read in place).
  std::pair<View, int64_t> operand(Operation *op, unsigned i) {
    Value v = op->getOperand(i);
    auto it = views.find(v);
    if (it != views.end())
      return {it->second, parallelDim(v)};
    auto arg = cast<BlockArgument>(v);
    int64_t p = operandParallelDim(op, i);
    Shape full = fullShape(v), rm = rowMajorStrides(full);
    View view{memrefs[arg.getArgNumber()], idx(0), dropDim(full, p), dropDim(rm, p), nullptr};
    if (p >= 0)
      view.base = b.create<arith::MulIOp>(loc, row, idx(rm[p]));
    return {view, p};
  }

  /// Strides of an operand (local view, full shape, parallel dim) read
  /// over the local dims of a result (full shape, parallel dim), numpy
  /// broadcasting aligned at the right.
  Shape align(const View &v, ArrayRef<int64_t> full, int64_t p, ArrayRef<int64_t> resFull,
              int64_t pr) {
    Shape strides;
    int64_t shift = resFull.size() - full.size();
    for (int64_t i = 0; i < (int64_t)resFull.size(); ++i) {
      if (i == pr)
        continue;
      int64_t j = i - shift;
      if (v.scalar || j < 0 || j == p || (full[j] == 1 && resFull[i] != 1))
        strides.push_back(0);
      else
        strides.push_back(v.strides[localIndex(j, p)]);
    }
    return strides;
  }

  /// Output `i` of the region, this row's part.
  View outputView(unsigned i) {
    Value v = fusion.getResult(i);
    int64_t p = parallelDim(fusion.getBody().front().getTerminator()->getOperand(i));
    Shape full = fullShape(v), rm = rowMajorStrides(full);
    View out{memrefs[fusion.getInputs().size() + i], idx(0), dropDim(full, p), dropDim(rm, p), nullptr};
    if (p >= 0)
      out.base = b.create<arith::MulIOp>(loc, row, idx(rm[p]));
    return out;
  }
  bool rowIsContiguous(Value v);
  Value laidOutAs(Value v);
  void findEarlyOutputs();
  bool isLazy(Operation *op);

  LogicalResult emit(Operation *op);
  void emitRowOp(Operation *op);
  void emitReduce(ReductionOpInterface op);
  /// Whether `op` keeps its operand's last dim, which is not the parallel
  /// one: it then accumulates whole rows of the local tensor (inner loops
  /// along contiguous memory) rather than folding each kept element's
  /// elements.
  bool reducesAcrossRows(ReductionOpInterface op);
  void emitPool(PoolOpInterface op);

  FusionOp fusion;
  OpBuilder &b, &entry;
  ValueRange memrefs;
  Value row;
  int64_t rows;
  Location loc;
  KernelEmitter *emitter;
  llvm::DenseMap<Value, View> views;
  llvm::SmallPtrSet<Operation *, 4> done; // emitted early, with a partner
  llvm::DenseMap<Value, unsigned> earlyOutputs; // value -> the output it is built in
};


} // namespace fused
} // namespace kiln

#endif // KILN_CODEGEN_FUSEDBODY_H
