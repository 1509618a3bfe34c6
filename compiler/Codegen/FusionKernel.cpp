//===- FusionKernel.cpp - one kernel for a kiln.fusion region -------------===//
#include "compiler/Codegen/FusionKernel.h"
#include "compiler/Codegen/FusedBody.h"

#include "compiler/Codegen/ElementwiseOps.h"
#include "compiler/Transforms/FusionRegion.h"
#include "compiler/Transforms/ParallelAxis.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/AsmState.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/TypeSwitch.h"

#include <cmath>

using namespace mlir;

namespace kiln {
namespace fused {

bool FusedBody::reducesAcrossRows(ReductionOpInterface op) {
  Value x = op->getOperand(0);
  int64_t last = cast<RankedTensorType>(x.getType()).getRank() - 1;
  int64_t p = parallelDim(x);
  if (isa<BlockArgument>(x))
    p = operandParallelDim(op, 0);
  bool localEmpty = last < 0 || (last == 0 && p == 0);
  return !localEmpty && !llvm::is_contained(op.getReducedAxes(), last) && last != p &&
         !isa<LogSumExpOp>(op);
}

void FusedBody::emitReduce(ReductionOpInterface op) {
  auto [in, p] = operand(op, 0);
  Shape full = fullShape(op->getOperand(0));
  ArrayRef<int64_t> axes = op.getReducedAxes();
  Shape kept, keptStrides, red, redStrides;
  for (int64_t d = 0; d < (int64_t)full.size(); ++d) {
    if (d == p)
      continue;
    int64_t l = localIndex(d, p);
    (llvm::is_contained(axes, d) ? red : kept).push_back(in.shape[l]);
    (llvm::is_contained(axes, d) ? redStrides : keptStrides).push_back(in.strides[l]);
  }
  View out = scratch(op->getResult(0));
  int64_t count = 1;
  for (int64_t n : red)
    count *= n;
  // The output's strides over the kept dims (keepdim leaves dims of 1).
  Shape outKept;
  int64_t pr = parallelDim(op->getResult(0));
  for (int64_t d = 0; d < (int64_t)full.size(); ++d) {
    if (d == p || llvm::is_contained(axes, d))
      continue;
    int64_t rd = op.keepsReducedDims() ? d : d - llvm::count_if(axes, [&](int64_t a) { return a < d; });
    outKept.push_back(out.strides[localIndex(rd, pr)]);
  }
  // Reducing across rows of the local tensor (the last local dim kept):
  // accumulate whole rows, so the inner loop runs along contiguous memory
  // and vectorises.
  if (reducesAcrossRows(op)) {
    View acc{out.memref, out.base, kept, outKept, nullptr};
    bool isMax = isa<ReduceMaxOp>(op);
    Value init = f32(isMax ? -INFINITY : 0.0);
    auto combine = [&](Value a, Value x) -> Value {
      return isMax ? reductionMax(b, loc, a, x) : b.create<arith::AddFOp>(loc, a, x).getResult();
    };
    // Either way the rows are added in order: the same sums.
    if (!accumulatesWholeRows()) {
      loops(kept, [&](ValueRange c) {
        View column = in;
        column.base = at(in, c, keptStrides);
        Value v = serialFold(red, {init}, [&](ValueRange a, ValueRange r) -> SmallVector<Value> {
          return {combine(a[0], load(column, r, redStrides))};
        })[0];
        store(acc, c, isa<MeanOp>(op) ? b.create<arith::MulFOp>(loc, v, f32(1.0 / count)).getResult()
                                      : v);
      });
      views[op->getResult(0)] = out;
      return;
    }
    loops(kept, [&](ValueRange c) { store(acc, c, init); });
    serialLoops(red, [&](ValueRange r) {
      View rowIn = in;
      rowIn.base = at(in, r, redStrides);
      loops(kept, [&](ValueRange c) { store(acc, c, combine(load(acc, c), load(rowIn, c, keptStrides))); });
    });
    if (isa<MeanOp>(op))
      loops(kept, [&](ValueRange c) {
        store(acc, c, b.create<arith::MulFOp>(loc, load(acc, c), f32(1.0 / count)));
      });
    views[op->getResult(0)] = out;
    return;
  }
  // The reduced dims' strides of every read (a lazy operand's reads, over
  // its own local dims, restricted to them).
  std::vector<Shape> reads;
  addReads(reads, in, in.strides);
  for (Shape &r : reads) {
    Shape reduced;
    for (int64_t l = 0; l < (int64_t)r.size(); ++l)
      if (llvm::is_contained(axes, p >= 0 && l >= p ? l + 1 : l)) // l's full dim
        reduced.push_back(r[l]);
    r = reduced;
  }
  serialLoops(kept, [&](ValueRange c) {
    View rowIn = in;
    if (!in.lazy)
      rowIn.base = at(in, c, keptStrides);
    auto x = [&](ValueRange r) {
      if (!in.lazy)
        return load(rowIn, r, redStrides);
      // A lazy operand is read at its local coordinates: kept and reduced
      // dims interleaved.
      SmallVector<Value> local;
      size_t k = 0, q = 0;
      for (int64_t d = 0; d < (int64_t)full.size(); ++d)
        if (d != p)
          local.push_back(llvm::is_contained(axes, d) ? r[q++] : c[k++]);
      return in.lazy(local);
    };
    Value result;
    auto maxOf = [&] {
      return fold(red, f32(-INFINITY), Combine::Max, [&](Value acc, ValueRange r) {
        return reductionMax(b, loc, acc, x(r));
      });
    };
    auto sumOf = [&](Value shift) {
      return affineFold(red, reads, f32(0.0), Combine::Add, [&](Value acc, ValueRange r) {
        Value v = x(r);
        if (shift)
          v = b.create<math::ExpOp>(loc, b.create<arith::SubFOp>(loc, v, shift));
        return reassoc(b.create<arith::AddFOp>(loc, acc, v));
      });
    };
    if (isa<ReduceMaxOp>(op)) {
      result = maxOf();
    } else if (isa<LogSumExpOp>(op)) {
      Value m = maxOf();
      result = b.create<arith::AddFOp>(loc, m, b.create<math::LogOp>(loc, sumOf(m)));
    } else {
      result = sumOf(nullptr);
      if (isa<MeanOp>(op))
        result = b.create<arith::MulFOp>(loc, result, f32(1.0 / count));
    }
    storeUniform(result, out.memref, at(out, c, outKept));
  });
  views[op->getResult(0)] = out;
}

/// A softmax and a log-softmax of the same row in one region: both from one
/// pass of exponentials.
Operation *pairedRowOp(Operation *op) {
  if (!isa<SoftmaxOp, LogSoftmaxOp>(op))
    return nullptr;
  for (Operation *u : op->getOperand(0).getUsers())
    if (u != op && u->getBlock() == op->getBlock() && op->isBeforeInBlock(u) &&
        (isa<SoftmaxOp>(op) ? isa<LogSoftmaxOp>(u) : isa<SoftmaxOp>(u)) &&
        u->getAttr("axis") == op->getAttr("axis"))
      return u;
  return nullptr;
}

void FusedBody::emitRowOp(Operation *op) {
  if (done.contains(op))
    return;
  auto [in, p] = operand(op, 0);
  Shape full = fullShape(op->getOperand(0));
  int64_t axis = cast<RowOpInterface>(op).getRowAxis();
  int64_t la = localIndex(axis, p), n = in.shape[la];
  Shape other, inOther;
  for (int64_t l = 0; l < (int64_t)in.shape.size(); ++l)
    if (l != la) {
      other.push_back(in.shape[l]);
      inOther.push_back(in.strides[l]);
    }
  View out = scratch(op->getResult(0));
  Operation *pair = pairedRowOp(op);
  View pairScratch;
  if (pair) {
    pairScratch = scratch(pair->getResult(0));
    views[pair->getResult(0)] = pairScratch;
    done.insert(pair);
  }
  bool argmax = isa<ArgmaxOp>(op);
  // The outputs' strides over the other dims and along the axis.
  Shape outOther, outAxis{argmax ? 0 : out.strides[la]}, pairOther;
  for (int64_t l = 0; l < (int64_t)out.shape.size() + (argmax ? 1 : 0); ++l)
    if (l != la) {
      outOther.push_back(out.strides[argmax && l > la ? l - 1 : l]);
      if (pair)
        pairOther.push_back(pairScratch.strides[l]);
    }
  std::optional<View> scale, bias;
  if (isa<LayerNormOp>(op)) {
    scale = operand(op, 1).first;
    bias = operand(op, 2).first;
  }
  serialLoops(other, [&](ValueRange c) {
    View r = in, o = out, pairOut = pairScratch;
    r.base = at(in, c, inOther);
    o.base = at(out, c, outOther);
    auto x = [&](Value k) { return load(r, ValueRange{k}, ArrayRef<int64_t>{in.strides[la]}); };
    auto put = [&](Value k, Value v) {
      storeElement(v, o.memref, at(o, ValueRange{k}, outAxis));
    };
    auto foldRow = [&](double init, Combine kind,
                       const std::function<Value(Value, Value, Value)> &step) {
      return fold(ArrayRef<int64_t>{n}, f32(init), kind,
                  [&](Value acc, ValueRange k) { return step(acc, x(k[0]), k[0]); });
    };
    auto eachK = [&](const std::function<Value(Value, Value)> &g) {
      loops(ArrayRef<int64_t>{n}, [&](ValueRange k) { put(k[0], g(x(k[0]), k[0])); });
    };
    auto add = [&](Value a, Value v) { return reassoc(b.create<arith::AddFOp>(loc, a, v)); };
    auto sub = [&](Value a, Value v) { return b.create<arith::SubFOp>(loc, a, v).getResult(); };
    auto mul = [&](Value a, Value v) { return b.create<arith::MulFOp>(loc, a, v).getResult(); };
    auto maxOf = [&] {
      return foldRow(-INFINITY, Combine::Max, [&](Value a, Value v, Value) {
        return reductionMax(b, loc, a, v);
      });
    };
    auto sumExp = [&](Value m) {
      return foldRow(0.0, Combine::Add, [&](Value a, Value v, Value) {
        return add(a, b.create<math::ExpOp>(loc, sub(v, m)));
      });
    };
    if (pair) {
      // softmax = e/s and log_softmax = x - m - ln s from one pass storing
      // e = e^(x - m).
      pairOut.base = at(pairScratch, c, pairOther);
      bool softmaxFirst = isa<SoftmaxOp>(op);
      View sm = softmaxFirst ? o : pairOut, lsm = softmaxFirst ? pairOut : o;
      Shape smAxis{sm.strides[la]}, lsmAxis{lsm.strides[la]};
      Value m = maxOf();
      Value s = foldRow(0.0, Combine::Add, [&](Value a, Value v, Value k) {
        Value e = b.create<math::ExpOp>(loc, sub(v, m));
        storeElement(e, sm.memref, at(sm, ValueRange{k}, smAxis));
        return add(a, e);
      });
      sync();
      Value inv = b.create<arith::DivFOp>(loc, f32(1.0), s);
      Value lse = add(m, b.create<math::LogOp>(loc, s));
      loops(ArrayRef<int64_t>{n}, [&](ValueRange k) {
        Value i = at(sm, k, smAxis);
        storeElement(mul(loadElement(sm.memref, i), inv), sm.memref, i);
        storeElement(sub(x(k[0]), lse), lsm.memref, at(lsm, k, lsmAxis));
      });
    } else if (isa<SoftmaxOp>(op)) {
      // One exponential per element: e^(x - m) is stored while summed,
      // then scaled in place.
      Value m = maxOf();
      Value s = foldRow(0.0, Combine::Add, [&](Value a, Value v, Value k) {
        Value e = b.create<math::ExpOp>(loc, sub(v, m));
        put(k, e);
        return add(a, e);
      });
      sync();
      Value inv = b.create<arith::DivFOp>(loc, f32(1.0), s);
      loops(ArrayRef<int64_t>{n}, [&](ValueRange k) {
        Value at0 = at(o, k, outAxis);
        storeElement(mul(loadElement(o.memref, at0), inv), o.memref, at0);
      });
    } else if (isa<LogSoftmaxOp>(op)) {
      Value m = maxOf();
      Value lse = add(m, b.create<math::LogOp>(loc, sumExp(m)));
      eachK([&](Value v, Value) { return sub(v, lse); });
    } else if (isa<L2NormalizeOp>(op)) {
      Value ss = foldRow(0.0, Combine::Add, [&](Value a, Value v, Value) { return add(a, mul(v, v)); });
      double eps = cast<L2NormalizeOp>(op).getEps().convertToDouble();
      Value d = b.create<arith::MaximumFOp>(loc, b.create<math::SqrtOp>(loc, ss), f32(eps));
      eachK([&](Value v, Value) { return b.create<arith::DivFOp>(loc, v, d).getResult(); });
    } else if (argmax) {
      Value m = maxOf();
      Value first = foldRow(double(n), Combine::Min, [&](Value a, Value v, Value k) {
        Value kf = b.create<arith::UIToFPOp>(loc, b.getF32Type(),
                                             b.create<arith::IndexCastOp>(loc, b.getI64Type(), k));
        Value hit = b.create<arith::CmpFOp>(loc, arith::CmpFPredicate::OEQ, v, m);
        return b.create<arith::MinimumFOp>(loc, a, b.create<arith::SelectOp>(loc, hit, kf, a)).getResult();
      });
      storeUniform(b.create<arith::FPToSIOp>(loc, b.getI32Type(), first), o.memref, o.base);
    } else { // layer_norm
      Value invN = f32(1.0 / n);
      Value mean = mul(foldRow(0.0, Combine::Add, [&](Value a, Value v, Value) { return add(a, v); }), invN);
      Value var = mul(foldRow(0.0, Combine::Add, [&](Value a, Value v, Value) {
                        Value d = sub(v, mean);
                        return add(a, mul(d, d));
                      }),
                      invN);
      double eps = cast<LayerNormOp>(op).getEps().convertToDouble();
      Value rstd = b.create<math::RsqrtOp>(loc, add(var, f32(eps)));
      eachK([&](Value v, Value k) {
        Value g = load(*scale, ValueRange{k}, ArrayRef<int64_t>{scale->strides.back()});
        Value bb = load(*bias, ValueRange{k}, ArrayRef<int64_t>{bias->strides.back()});
        return add(mul(mul(sub(v, mean), rstd), g), bb);
      });
    }
  });
  views[op->getResult(0)] = out;
}

/// Pooling and its gradients: one output element per iteration of a loop
/// (spread over a GPU block), each folding its window alone. Tap (kh, kw)
/// of output (ho, wo) reads input (ho·stride - pad + kh·dilation, ...);
/// the gradients walk the taps backwards, from an input element to the
/// outputs whose windows hold it, so each element has one writer.
/// Cost: a window's taps per element, forward or backward.
void FusedBody::emitPool(PoolOpInterface pool) {
  Operation *op = pool;
  ConvGeometry g = pool.getGeometry();
  auto [in, p] = operand(op, 0);
  View out = scratch(op->getResult(0));
  Type i32 = b.getI32Type();
  auto cmp = [&](arith::CmpIPredicate pred, Value a, Value c) {
    return b.create<arith::CmpIOp>(loc, pred, a, c).getResult();
  };
  auto all = [&](std::initializer_list<Value> conds) {
    Value r = nullptr;
    for (Value c : conds)
      r = r ? b.create<arith::AndIOp>(loc, r, c).getResult() : c;
    return r;
  };
  auto inRange = [&](Value v, int64_t n) {
    return all({cmp(arith::CmpIPredicate::sge, v, idx(0)), cmp(arith::CmpIPredicate::slt, v, idx(n))});
  };
  auto clamp = [&](Value v, int64_t n) {
    return b.create<arith::MaxSIOp>(loc, b.create<arith::MinSIOp>(loc, v, idx(n - 1)), idx(0))
        .getResult();
  };
  auto affine = [&](Value v, int64_t scale, int64_t offset) {
    return b.create<arith::AddIOp>(loc, b.create<arith::MulIOp>(loc, v, idx(scale)), idx(offset))
        .getResult();
  };
  auto select = [&](Value c, Value x, Value y) {
    return b.create<arith::SelectOp>(loc, c, x, y).getResult();
  };
  // Input row (or column) of tap k of output o along spatial dim d.
  auto forward = [&](Value o, Value k, int d) {
    return b.create<arith::AddIOp>(loc, affine(o, g.stride[d], -g.pad[d]),
                                   affine(k, g.dilation[d], 0)).getResult();
  };
  // The output whose tap k reads input i along d, and whether there is one.
  auto backward = [&](Value i, Value k, int d, int64_t outSize) -> std::pair<Value, Value> {
    Value t = b.create<arith::SubIOp>(loc, affine(i, 1, g.pad[d]), affine(k, g.dilation[d], 0));
    Value o = b.create<arith::DivSIOp>(loc, t, idx(g.stride[d]));
    Value exact = cmp(arith::CmpIPredicate::eq,
                      b.create<arith::RemSIOp>(loc, t, idx(g.stride[d])), idx(0));
    return {clamp(o, outSize), all({exact, inRange(o, outSize)})};
  };
  // Taps of output (ho, wo) inside the input along one dim (the divisor
  // of avg_pool2d without count_include_pad).
  auto countValid = [&](Value o, int d, int64_t size, int64_t taps) {
    return serialFold({taps}, ValueRange{f32(0.0)}, [&](ValueRange acc, ValueRange k) -> SmallVector<Value> {
      Value one = select(inRange(forward(o, k[0], d), size), f32(1.0), f32(0.0));
      return {b.create<arith::AddFOp>(loc, acc[0], one).getResult()};
    })[0];
  };
  bool countPad = true;
  if (auto avg = dyn_cast<AvgPool2dOp>(op))
    countPad = avg.getCountIncludePad();
  if (auto avg = dyn_cast<AvgPool2dGradOp>(op))
    countPad = avg.getCountIncludePad();
  auto divisor = [&](Value ho, Value wo) {
    if (countPad)
      return f32(double(g.kh * g.kw));
    return b.create<arith::MulFOp>(loc, countValid(ho, 0, g.h, g.kh), countValid(wo, 1, g.w, g.kw))
        .getResult();
  };
  // h·W + w, the i32 index of a plane element (max_pool2d's indices).
  auto planeIndex = [&](Value h, Value w) {
    return b.create<arith::AddIOp>(loc, b.create<arith::IndexCastOp>(loc, i32, affine(h, g.w, 0)),
                                   b.create<arith::IndexCastOp>(loc, i32, w)).getResult();
  };
  std::optional<View> indices; // max_pool2d's second result, or its gradient's operand
  if (isa<MaxPool2dOp>(op))
    indices = scratch(op->getResult(1));
  if (isa<MaxPool2dGradOp>(op))
    indices = operand(op, 1).first;
  Shape window{g.kh, g.kw};

  loops(out.shape, [&](ValueRange c) {
    SmallVector<Value> at(c.begin(), c.end());
    size_t nh = at.size() - 2, nw = at.size() - 1;
    Value y = at[nh], x = at[nw];
    // Forward ops: the input coordinates of window tap k (clamped into the
    // plane) and whether it lies inside it rather than in the padding.
    auto tapOf = [&](ValueRange k) -> std::pair<SmallVector<Value>, Value> {
      Value h = forward(y, k[0], 0), w = forward(x, k[1], 1);
      SmallVector<Value> tap = at;
      tap[nh] = clamp(h, g.h), tap[nw] = clamp(w, g.w);
      return {tap, all({inRange(h, g.h), inRange(w, g.w)})};
    };
    if (isa<MaxPool2dOp>(op)) {
      // PyTorch's rule: the first strictly larger value (or NaN) wins.
      SmallVector<Value> origin = tapOf({idx(0), idx(0)}).first;
      auto best = serialFold(window, ValueRange{f32(-INFINITY), planeIndex(origin[nh], origin[nw])},
                             [&](ValueRange acc, ValueRange k) -> SmallVector<Value> {
        auto [tap, inside] = tapOf(k);
        Value v = load(in, tap);
        Value larger = b.create<arith::OrIOp>(
            loc, b.create<arith::CmpFOp>(loc, arith::CmpFPredicate::OGT, v, acc[0]),
            b.create<arith::CmpFOp>(loc, arith::CmpFPredicate::UNO, v, v));
        Value take = all({inside, larger});
        return {select(take, v, acc[0]), select(take, planeIndex(tap[nh], tap[nw]), acc[1])};
      });
      store(out, c, best[0]);
      store(*indices, c, best[1]);
    } else if (isa<AvgPool2dOp>(op)) {
      Value sum = serialFold(window, ValueRange{f32(0.0)},
                             [&](ValueRange acc, ValueRange k) -> SmallVector<Value> {
        auto [tap, inside] = tapOf(k);
        Value v = select(inside, load(in, tap), f32(0.0));
        return {reassoc(b.create<arith::AddFOp>(loc, acc[0], v))};
      })[0];
      store(out, c, b.create<arith::DivFOp>(loc, sum, divisor(y, x)));
    } else {
      // A gradient: (y, x) is an input element; sum what the outputs
      // whose windows hold it sent back.
      bool max = isa<MaxPool2dGradOp>(op);
      Value self = max ? planeIndex(y, x) : Value();
      Value sum = serialFold(window, ValueRange{f32(0.0)},
                             [&](ValueRange acc, ValueRange k) -> SmallVector<Value> {
        auto [ho, hit0] = backward(y, k[0], 0, g.ho);
        auto [wo, hit1] = backward(x, k[1], 1, g.wo);
        SmallVector<Value> tap = at;
        tap[nh] = ho, tap[nw] = wo;
        Value gv = load(in, tap), hit = all({hit0, hit1});
        if (max)
          hit = all({hit, cmp(arith::CmpIPredicate::eq, load(*indices, tap), self)});
        else
          gv = b.create<arith::DivFOp>(loc, gv, divisor(ho, wo));
        return {select(hit, b.create<arith::AddFOp>(loc, acc[0], gv), acc[0])};
      })[0];
      store(out, c, sum);
    }
  });
  views[op->getResult(0)] = out;
  if (isa<MaxPool2dOp>(op))
    views[op->getResult(1)] = *indices;
}

LogicalResult FusedBody::emit(Operation *op) {
  Value result = op->getNumResults() ? op->getResult(0) : Value();
  if (auto c = dyn_cast<ConstantOp>(op)) {
    auto attr = cast<DenseElementsAttr>(c.getValue());
    Type e = attr.getElementType();
    Value s = e.isF32() ? Value(f32(attr.getSplatValue<float>()))
                        : Value(b.create<arith::ConstantOp>(
                              loc, e.isInteger(1) ? b.getBoolAttr(attr.getSplatValue<bool>())
                                                  : b.getI32IntegerAttr(attr.getSplatValue<int32_t>())));
    // A one-element tensor of any rank ([1] too): its shape is kept, since
    // row ops and reductions walk their operand's dims.
    Shape full = fullShape(result);
    views[result] = View{nullptr, idx(0), full, Shape(full.size(), 0), s};
    return success();
  }
  Shape resFull = result ? fullShape(result) : Shape{};
  int64_t pr = result ? parallelDim(result) : -1;
  if (isa<StopGradientOp>(op)) {
    views[result] = operand(op, 0).first;
    return success();
  }
  if (isa<BroadcastOp>(op)) {
    auto [v, p] = operand(op, 0);
    if (!v.scalar)
      v.strides = align(v, fullShape(op->getOperand(0)), p, resFull, pr);
    v.shape = dropDim(resFull, pr);
    views[result] = v;
    return success();
  }
  if (isElementwiseMap(op)) {
    SmallVector<std::pair<View, Shape>, 4> ins;
    for (unsigned i = 0; i < op->getNumOperands(); ++i) {
      auto [v, p] = operand(op, i);
      Shape strides = align(v, fullShape(op->getOperand(i)), p, resFull, pr);
      ins.push_back({v, strides});
    }
    std::vector<Shape> reads;
    for (auto &[v, strides] : ins)
      addReads(reads, v, strides);
    if (isLazy(op)) {
      View lazy;
      lazy.shape = dropDim(resFull, pr);
      lazy.lazy = [this, op, ins](ValueRange c) {
        SmallVector<Value> x;
        for (auto &[v, strides] : ins)
          x.push_back(load(v, c, strides));
        return rounded(op->getResult(0), scalarOp(b, loc, op, x));
      };
      lazy.strides = Shape(lazy.shape.size(), 0); // never read: see reads
      lazy.reads = reads;
      views[result] = lazy;
      return success();
    }
    View out = scratch(result);
    reads.push_back(out.strides);
    affineLoops(out.shape, reads, [&](ValueRange c) {
      SmallVector<Value> x;
      for (auto &[v, strides] : ins)
        x.push_back(load(v, c, strides));
      store(out, c, rounded(op->getResult(0), scalarOp(b, loc, op, x)));
    });
    views[result] = out;
    return success();
  }
  if (auto r = dyn_cast<ReductionOpInterface>(op)) {
    emitReduce(r);
    return success();
  }
  if (isa<RowOpInterface>(op)) {
    emitRowOp(op);
    return success();
  }
  if (auto pool = dyn_cast<PoolOpInterface>(op)) {
    emitPool(pool);
    return success();
  }
  if (isa<OneHotOp>(op)) {
    // The class is the last full dim: a local coordinate, or the row when
    // the region runs in parallel along it (a batch of one).
    auto [v, p] = operand(op, 0);
    View out = scratch(result);
    bool classIsRow = pr == (int64_t)resFull.size() - 1;
    loops(out.shape, [&](ValueRange c) {
      Value label = load(v, classIsRow ? c : c.drop_back());
      Value cls = b.create<arith::IndexCastOp>(loc, b.getI32Type(), classIsRow ? row : c.back());
      Value hit = b.create<arith::CmpIOp>(loc, arith::CmpIPredicate::eq, label, cls);
      store(out, c, b.create<arith::UIToFPOp>(loc, b.getF32Type(), hit));
    });
    views[result] = out;
    return success();
  }
  if (isa<ReshapeOp>(op)) {
    auto [v, p] = operand(op, 0);
    if (v.strides != rowMajorStrides(v.shape)) { // materialise first
      // The operand's local part as this row reads it (its own parallel
      // dim may differ from the one the reshape is read along).
      View copy = allocScratch(v.shape, cast<RankedTensorType>(op->getOperand(0).getType()).getElementType());
      loops(v.shape, [&](ValueRange c) { store(copy, c, load(v, c)); });
      v = copy;
    }
    v.shape = dropDim(resFull, pr);
    v.strides = rowMajorStrides(v.shape);
    views[result] = v;
    return success();
  }
  if (auto t = dyn_cast<TransposeOp>(op)) {
    auto [v, p] = operand(op, 0);
    View out = v;
    out.shape = dropDim(resFull, pr);
    out.strides.clear();
    for (int64_t i = 0; i < (int64_t)resFull.size(); ++i)
      if (i != pr)
        out.strides.push_back(v.strides[localIndex(t.getPerm()[i], p)]);
    views[result] = out;
    return success();
  }
  if (auto s = dyn_cast<SliceOp>(op)) {
    auto [v, p] = operand(op, 0);
    View out = v;
    out.shape = dropDim(resFull, pr);
    Shape offsets;
    for (int64_t d = 0; d < (int64_t)resFull.size(); ++d)
      if (d != p) {
        int64_t l = localIndex(d, p);
        offsets.push_back(s.getStarts()[d]);
        out.strides[l] = v.strides[l] * s.getStrides()[d];
      }
    SmallVector<Value> starts;
    for (int64_t o : offsets)
      starts.push_back(idx(o));
    out.base = at(v, starts, v.strides);
    views[result] = out;
    return success();
  }
  if (auto s = dyn_cast<SplitOp>(op)) {
    auto [v, p] = operand(op, 0);
    int64_t la = localIndex(s.getAxis(), p), at0 = 0;
    for (Value r : s.getResults()) {
      View out = v;
      out.shape = dropDim(fullShape(r), pr);
      out.base = b.create<arith::AddIOp>(loc, v.base, idx(at0 * v.strides[la]));
      at0 += fullShape(r)[s.getAxis()];
      views[r] = out;
    }
    return success();
  }
  if (auto c = dyn_cast<ConcatOp>(op)) {
    View out = scratch(result);
    int64_t la = localIndex(c.getAxis(), pr), at0 = 0;
    for (unsigned i = 0; i < op->getNumOperands(); ++i) {
      auto [v, p] = operand(op, i);
      View dst = out;
      dst.base = b.create<arith::AddIOp>(loc, out.base, idx(at0 * out.strides[la]));
      loops(v.shape, [&](ValueRange co) { store(dst, co, load(v, co)); });
      at0 += v.shape[la];
    }
    views[result] = out;
    return success();
  }
  if (auto pad = dyn_cast<PadOp>(op)) {
    auto [v, p] = operand(op, 0);
    View out = scratch(result);
    loops(out.shape, [&](ValueRange c) { store(out, c, f32(0.0)); });
    sync(); // on a GPU the copy's threads are not the fill's
    View dst = out;
    SmallVector<Value> lows;
    for (int64_t d = 0; d < (int64_t)resFull.size(); ++d)
      if (d != pr) {
        int64_t l = localIndex(d, pr);
        lows.push_back(idx(pad.getLow()[d]));
        dst.strides[l] = out.strides[l] * (pad.getInterior()[d] + 1);
      }
    dst.base = at(out, lows, out.strides);
    loops(v.shape, [&](ValueRange c) { store(dst, c, load(v, c)); });
    views[result] = out;
    return success();
  }
  return op->emitError() << "fused CPU codegen does not handle '" << op->getName() << "'";
}

/// An elementwise op is computed where it is read, not stored, when its
/// one reader is an elementwise op of the same shape and parallel dim (so
/// it is read at its own coordinates), or a sum or mean that folds each
/// kept element (it reads each element once, at its own coordinates), and
/// the region does not yield it. (Several readers would each recompute it:
/// their loops are separate.)
bool FusedBody::isLazy(Operation *op) {
  Value v = op->getResult(0);
  if (!v.hasOneUse() || earlyOutputs.count(v))
    return false;
  Operation *user = *v.getUsers().begin();
  if (isa<SumOp, MeanOp>(user))
    return !reducesAcrossRows(cast<ReductionOpInterface>(user));
  return isElementwiseMap(user) && fullShape(user->getResult(0)) == fullShape(v) &&
         parallelDim(user->getResult(0)) == parallelDim(v);
}

/// Whether `v` (or a view of it: the planner aliases reshapes and
/// stop_gradients) is a parameter's or state's new value, whose buffer may
/// be the slot itself (writeUpdatesInPlace).
static bool updatesInPlace(Value v) {
  return llvm::any_of(v.getUsers(), [](Operation *u) {
    return isa<UpdateParamOp, UpdateStateOp>(u) ||
           (isa<ReshapeOp, StopGradientOp>(u) && updatesInPlace(u->getResult(0)));
  });
}

/// Whether `v`'s local part is one contiguous run of its buffer: every
/// dim before the parallel one has extent 1.
bool FusedBody::rowIsContiguous(Value v) {
  int64_t p = parallelDim(v);
  Shape full = fullShape(v);
  return llvm::all_of(ArrayRef<int64_t>(full).take_front(std::max<int64_t>(p, 0)),
                      [](int64_t n) { return n == 1; });
}

/// The value whose local part has the same elements, in the same order, as
/// yielded `v`'s: through stop_gradients, and through reshapes between
/// contiguous local parts at the same offset of the buffer (a bf16 cast
/// then reshaped to the GEMM's operand shape).
Value FusedBody::laidOutAs(Value v) {
  while (true) {
    if (auto sg = v.getDefiningOp<StopGradientOp>()) {
      v = sg.getInput();
      continue;
    }
    auto r = v.getDefiningOp<ReshapeOp>();
    if (!r)
      return v;
    Value in = r.getInput();
    int64_t p = parallelDim(in), pr = parallelDim(v);
    if ((p < 0) != (pr < 0) || !rowIsContiguous(in) || !rowIsContiguous(v) ||
        (p >= 0 && rowMajorStrides(fullShape(in))[p] != rowMajorStrides(fullShape(v))[pr]))
      return v;
    v = in;
  }
}

/// A value the region yields is built in its output rather than in scratch
/// and then copied, when the op that makes it writes its result (every op
/// but the views) and the output cannot take an input's place (only
/// updates of parameters and state do: see writeUpdatesInPlace), since a
/// row op or a reduction must read the whole row before writing it.
void FusedBody::findEarlyOutputs() {
  auto yield = cast<YieldOp>(fusion.getBody().front().getTerminator());
  for (auto [i, yielded] : llvm::enumerate(yield.getValues())) {
    Value v = laidOutAs(yielded);
    Operation *def = v.getDefiningOp();
    bool inPlace = updatesInPlace(fusion.getResult(i));
    bool writes = def && !isa<ConstantOp, BroadcastOp, ReshapeOp, TransposeOp, SliceOp,
                                SplitOp>(def);
    if (writes && !inPlace && !earlyOutputs.count(v))
      earlyOutputs[v] = i;
  }
}

LogicalResult FusedBody::run() {
  Block &body = fusion.getBody().front();
  findEarlyOutputs();
  for (Operation &op : body.without_terminator()) {
    loc = op.getLoc(); // the kernel's loops say which op they compute
    if (failed(emit(&op)))
      return failure();
    sync();
  }
  loc = fusion.getLoc();
  auto yield = cast<YieldOp>(body.getTerminator());
  for (auto [i, v] : llvm::enumerate(yield.getValues())) {
    auto early = earlyOutputs.find(laidOutAs(v));
    if (early != earlyOutputs.end() && early->second == i)
      continue;
    View value = views.count(v) ? views[v]
                                : View{memrefs[cast<BlockArgument>(v).getArgNumber()], idx(0),
                                       fullShape(v), rowMajorStrides(fullShape(v)), nullptr};
    View out = outputView(i);
    loops(value.shape, [&](ValueRange c) { store(out, c, load(value, c)); });
  }
  return success();
}

} // namespace fused

Operation *soleOp(FusionOp fusion) {
  Operation *sole = nullptr;
  for (Operation &op : fusion.getBody().front().without_terminator()) {
    if (isa<ConstantOp>(op))
      continue;
    if (sole)
      return nullptr;
    sole = &op;
  }
  return sole;
}

std::string kernelThunkName(ArrayRef<FusionOp> regions) {
  std::string first = regionName(regions.front());
  if (regions.size() == 1)
    return first;
  return first + "_and_" + std::to_string(regions.size() - 1) + "_more";
}

FailureOr<std::string> emitFusionKernel(FusionOp fusion, KernelEmitter &emitter,
                                        ArrayRef<KernelArg> args, int64_t &rows) {
  rows = fusion->getAttrOfType<IntegerAttr>("rows") ? fusion->getAttrOfType<IntegerAttr>("rows").getInt() : 1;
  bool ok = true;
  std::string name = emitter.custom(kernelThunkName(fusion), fusion.getLoc(), args, [&](OpBuilder &b, OpBuilder &entry,
                                                       ValueRange memrefs, Value row) {
    fused::FusedBody body(fusion, b, entry, memrefs, row, rows, &emitter);
    ok = succeeded(body.run());
  });
  if (!ok)
    return failure();
  emitter.fusionKernels.try_emplace(name, fusion);
  return name;
}

std::string fusedBodyKey(FusionOp fusion) {
  std::string text;
  llvm::raw_string_ostream os(text);
  auto rows = fusion->getAttrOfType<IntegerAttr>("rows");
  os << "rows " << (rows ? rows.getInt() : 1) << ", in place";
  for (Value r : fusion.getResults())
    os << " " << fused::updatesInPlace(r);
  os << "\n";
  AsmState state(fusion, keyPrintingFlags());
  fusion.getBody().front().print(os, state);
  return text;
}

namespace {

/// Regions [first, first + count) of a multi-tensor kernel: the same body
/// on arguments of the same sizes, `rows` each.
struct SameBodies {
  size_t first, count;
  int64_t rows;
};

SmallVector<SameBodies> sameBodyRuns(ArrayRef<FusionOp> fusions, ArrayRef<size_t> argOffsets,
                                     ArrayRef<KernelArg> args) {
  auto argsOf = [&](size_t i) {
    size_t end = i + 1 < argOffsets.size() ? argOffsets[i + 1] : args.size();
    return args.slice(argOffsets[i], end - argOffsets[i]);
  };
  auto sameArgs = [&](size_t i, size_t j) {
    ArrayRef<KernelArg> a = argsOf(i), b = argsOf(j);
    return a.size() == b.size() && llvm::all_of(llvm::seq<size_t>(0, a.size()), [&](size_t k) {
             return a[k].type == b[k].type && a[k].elements == b[k].elements;
           });
  };
  SmallVector<SameBodies> runs;
  std::string previous;
  for (auto [i, f] : llvm::enumerate(fusions)) {
    std::string key = fusedBodyKey(f);
    if (!runs.empty() && key == previous && sameArgs(runs.back().first, i)) {
      ++runs.back().count;
      continue;
    }
    auto rows = f->getAttrOfType<IntegerAttr>("rows");
    runs.push_back({i, 1, rows ? rows.getInt() : 1});
    previous = std::move(key);
  }
  return runs;
}

} // namespace

FailureOr<std::string> emitMultiTensorKernel(ArrayRef<FusionOp> fusions,
                                             ArrayRef<size_t> argOffsets, KernelEmitter &emitter,
                                             ArrayRef<KernelArg> args, int64_t &rows) {
  SmallVector<SameBodies> runs = sameBodyRuns(fusions, argOffsets, args);
  rows = 0;
  for (const SameBodies &run : runs)
    rows += run.count * run.rows;
  bool ok = true;
  std::string name = emitter.customRange(
      kernelThunkName(fusions), FusionOp(fusions.front()).getLoc(), args,
      [&](OpBuilder &b, OpBuilder &entry, ValueRange memrefs, Value begin, Value end) {
        Location loc = b.getUnknownLoc();
        Value buffers = entry.getBlock()->getArgument(0);
        auto idx = [&](OpBuilder &at, int64_t v) {
          return at.create<arith::ConstantIndexOp>(loc, v).getResult();
        };
        int64_t offset = 0;
        for (const SameBodies &run : runs) {
          size_t first = argOffsets[run.first];
          size_t count = (run.first + 1 < argOffsets.size() ? argOffsets[run.first + 1]
                                                            : args.size()) - first;
          int64_t runRows = run.count * run.rows;
          // Rows [offset, offset + runRows) of the range belong to this run.
          Value lo = b.create<arith::MaxSIOp>(loc, begin, idx(b, offset));
          Value hi = b.create<arith::MinSIOp>(loc, end, idx(b, offset + runRows));
          auto loop = b.create<scf::ForOp>(loc, lo, hi, idx(b, 1));
          OpBuilder inner = OpBuilder::atBlockBegin(loop.getBody());
          Value local = inner.create<arith::SubIOp>(loc, loop.getInductionVar(), idx(inner, offset));
          SmallVector<Value> regionMemrefs(memrefs.slice(first, count));
          Value row = local;
          if (run.count > 1) {
            // Region `which` of the run, its buffers at args[first + which·count ..].
            Value which = inner.create<arith::DivUIOp>(loc, local, idx(inner, run.rows));
            row = inner.create<arith::RemUIOp>(loc, local, idx(inner, run.rows));
            Value base = inner.create<arith::AddIOp>(
                loc, inner.create<arith::MulIOp>(loc, which, idx(inner, count)), idx(inner, first));
            for (size_t j = 0; j < count; ++j) {
              Value slot = inner.create<arith::IndexCastOp>(
                  loc, inner.getI64Type(), inner.create<arith::AddIOp>(loc, base, idx(inner, j)));
              regionMemrefs[j] = bufferMemref(inner, loc, buffers, slot, args[first + j].type,
                                              args[first + j].elements);
            }
          }
          fused::FusedBody body(fusions[run.first], inner, entry, regionMemrefs, row, run.rows,
                                &emitter);
          ok = ok && succeeded(body.run());
          b.setInsertionPointAfter(loop);
          offset += runRows;
        }
      });
  if (!ok)
    return failure();
  return name;
}

} // namespace kiln
