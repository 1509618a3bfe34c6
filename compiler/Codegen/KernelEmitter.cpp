//===- KernelEmitter.cpp - loop-nest kernels in scf/arith/math/memref -----===//
#include "compiler/Codegen/KernelEmitter.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"

#include "llvm/Support/raw_ostream.h"

#include <cmath>
#include <limits>

using namespace mlir;

namespace kiln {

Value reassoc(Value v) {
  if (Operation *op = v.getDefiningOp())
    op->setAttr("fastmath", arith::FastMathFlagsAttr::get(
                                op->getContext(),
                                arith::FastMathFlags::reassoc | arith::FastMathFlags::contract));
  return v;
}

Value reductionMax(OpBuilder &b, Location loc, Value acc, Value x) {
  using F = arith::FastMathFlags;
  auto flags = arith::FastMathFlagsAttr::get(b.getContext(),
                                             F::reassoc | F::contract | F::nnan | F::nsz);
  return b.create<arith::MaxNumFOp>(loc, acc, x, flags);
}

Value memrefOverPointer(OpBuilder &b, Location loc, Value p, Type elem, int64_t n) {
  n = std::max<int64_t>(n, 1);
  auto i64 = b.getI64Type();
  auto ptr = LLVM::LLVMPointerType::get(b.getContext());
  auto desc = LLVM::LLVMStructType::getLiteral(
      b.getContext(), {ptr, ptr, i64, LLVM::LLVMArrayType::get(i64, 1), LLVM::LLVMArrayType::get(i64, 1)});
  auto c = [&](int64_t v) { return b.create<LLVM::ConstantOp>(loc, i64, b.getI64IntegerAttr(v)); };
  Value d = b.create<LLVM::UndefOp>(loc, desc);
  d = b.create<LLVM::InsertValueOp>(loc, d, p, ArrayRef<int64_t>{0});
  d = b.create<LLVM::InsertValueOp>(loc, d, p, ArrayRef<int64_t>{1});
  d = b.create<LLVM::InsertValueOp>(loc, d, c(0), ArrayRef<int64_t>{2});
  d = b.create<LLVM::InsertValueOp>(loc, d, c(n), ArrayRef<int64_t>{3, 0});
  d = b.create<LLVM::InsertValueOp>(loc, d, c(1), ArrayRef<int64_t>{4, 0});
  return b.create<UnrealizedConversionCastOp>(loc, MemRefType::get({n}, elem), d).getResult(0);
}

Value bufferMemref(OpBuilder &b, Location loc, Value buffers, int i, Type elem, int64_t n) {
  auto ptr = LLVM::LLVMPointerType::get(b.getContext());
  Value slot = b.create<LLVM::GEPOp>(loc, ptr, ptr, buffers, ArrayRef<LLVM::GEPArg>{i});
  return memrefOverPointer(b, loc, b.create<LLVM::LoadOp>(loc, ptr, slot), elem, n);
}

SmallVector<int64_t> rowMajorStrides(ArrayRef<int64_t> shape) {
  SmallVector<int64_t> s(shape.size(), 1);
  for (int64_t d = static_cast<int64_t>(shape.size()) - 2; d >= 0; --d)
    s[d] = s[d + 1] * shape[d + 1];
  return s;
}

namespace {

Value indexConst(OpBuilder &b, Location loc, int64_t v) {
  return b.create<arith::ConstantIndexOp>(loc, v);
}

/// offset + Σ coords[d]·strides[d] as an index.
Value linearIndex(OpBuilder &b, Location loc, int64_t offset,
                  ArrayRef<int64_t> strides, ValueRange coords) {
  Value idx = indexConst(b, loc, offset);
  for (auto [c, s] : llvm::zip(coords, strides)) {
    if (s == 0)
      continue;
    Value term = s == 1 ? c : b.create<arith::MulIOp>(loc, c, indexConst(b, loc, s));
    idx = b.create<arith::AddIOp>(loc, idx, term);
  }
  return idx;
}

/// Merges adjacent loop dims that every stride list walks contiguously
/// (stride[d] == stride[d+1]·dims[d+1], broadcast dims included).
void mergeDims(SmallVectorImpl<int64_t> &dims,
               SmallVectorImpl<SmallVector<int64_t> *> &strides) {
  for (int64_t d = static_cast<int64_t>(dims.size()) - 2; d >= 0; --d) {
    bool contiguous = llvm::all_of(strides, [&](SmallVector<int64_t> *s) {
      return (*s)[d] == (*s)[d + 1] * dims[d + 1];
    });
    if (!contiguous)
      continue;
    dims[d] *= dims[d + 1];
    dims.erase(dims.begin() + d + 1);
    for (SmallVector<int64_t> *s : strides) {
      (*s)[d] = (*s)[d + 1];
      s->erase(s->begin() + d + 1);
    }
  }
  if (dims.empty()) {
    dims.push_back(1);
    for (SmallVector<int64_t> *s : strides)
      s->push_back(0);
  }
}

/// Nested loops over dims (dim 0 from begin to end), calling `body` with
/// the coordinates in the innermost loop.
void loopNest(OpBuilder &b, Location loc, ArrayRef<int64_t> dims, Value begin,
              Value end, SmallVectorImpl<Value> &coords,
              const std::function<void(OpBuilder &, ValueRange)> &body) {
  if (coords.size() == dims.size()) {
    body(b, coords);
    return;
  }
  size_t d = coords.size();
  Value lb = d == 0 ? begin : indexConst(b, loc, 0);
  Value ub = d == 0 ? end : indexConst(b, loc, dims[d]);
  b.create<scf::ForOp>(loc, lb, ub, indexConst(b, loc, 1), ValueRange{},
                       [&](OpBuilder &nb, Location l, Value iv, ValueRange) {
                         coords.push_back(iv);
                         loopNest(nb, l, dims, begin, end, coords, body);
                         coords.pop_back();
                         nb.create<scf::YieldOp>(l);
                       });
}

/// acc over nested loops of `dims` (all from 0), `step(acc, coords)`.
Value foldNest(OpBuilder &b, Location loc, ArrayRef<int64_t> dims, Value init,
               SmallVectorImpl<Value> &coords,
               const std::function<Value(OpBuilder &, Value, ValueRange)> &step,
               size_t first) {
  if (coords.size() - first == dims.size())
    return step(b, init, coords);
  int64_t d = coords.size() - first;
  auto loop = b.create<scf::ForOp>(
      loc, indexConst(b, loc, 0), indexConst(b, loc, dims[d]), indexConst(b, loc, 1),
      ValueRange{init}, [&](OpBuilder &nb, Location l, Value iv, ValueRange args) {
        coords.push_back(iv);
        Value next = foldNest(nb, l, dims, args[0], coords, step, first);
        coords.pop_back();
        nb.create<scf::YieldOp>(l, next);
      });
  return loop.getResult(0);
}

} // namespace

KernelEmitter::KernelEmitter(MLIRContext &context)
    : context(context), b(&context) {
  context.loadDialect<arith::ArithDialect, math::MathDialect, memref::MemRefDialect,
                      scf::SCFDialect, func::FuncDialect, LLVM::LLVMDialect>();
  kernels = ModuleOp::create(b.getUnknownLoc());
}

void KernelEmitter::enableElementRows() {
  elementRows = ModuleOp::create(b.getUnknownLoc());
}

func::FuncOp KernelEmitter::startKernel(StringRef op, ArrayRef<KernelArg> args,
                                        SmallVectorImpl<Value> &memrefs,
                                        Value &begin, Value &end) {
  return startKernelIn(*kernels, "k" + std::to_string(count++) + "_" + op.str(), args, memrefs,
                       begin, end);
}

func::FuncOp KernelEmitter::startKernelIn(ModuleOp module, const std::string &name,
                                          ArrayRef<KernelArg> args,
                                          SmallVectorImpl<Value> &memrefs, Value &begin,
                                          Value &end) {
  Location loc = b.getUnknownLoc();
  auto ptr = LLVM::LLVMPointerType::get(&context);
  auto i64 = b.getI64Type();
  b.setInsertionPointToEnd(module.getBody());
  auto fn = b.create<func::FuncOp>(loc, name, b.getFunctionType({ptr, i64, i64}, {}));
  b.setInsertionPointToStart(fn.addEntryBlock());
  for (auto [i, arg] : llvm::enumerate(args))
    memrefs.push_back(bufferMemref(b, loc, fn.getArgument(0), i, arg.type, arg.elements));
  begin = b.create<arith::IndexCastOp>(loc, b.getIndexType(), fn.getArgument(1));
  end = b.create<arith::IndexCastOp>(loc, b.getIndexType(), fn.getArgument(2));
  return fn;
}

std::string KernelEmitter::finish(func::FuncOp fn) {
  // Identical loop nests (the same op on the same shapes in every block of
  // a network) share one kernel.
  std::string name = fn.getName().str(), text;
  llvm::raw_string_ostream os(text);
  fn.getBody().front().print(os);
  auto [it, inserted] = bodies.try_emplace(text, name);
  if (inserted)
    return name;
  fn.erase();
  return it->second;
}

std::string KernelEmitter::map(StringRef op, ArrayRef<KernelArg> args,
                               ArrayRef<int64_t> dimsIn, ArrayRef<Access> inputs,
                               Access output, const MapBody &body, int64_t &rows) {
  SmallVector<int64_t> dims(dimsIn);
  SmallVector<Access> ins(inputs);
  SmallVector<SmallVector<int64_t> *> strides;
  for (Access &a : ins)
    strides.push_back(&a.strides);
  strides.push_back(&output.strides);
  mergeDims(dims, strides);
  rows = dims[0];

  SmallVector<Value> memrefs;
  Value begin, end;
  auto element = [&](OpBuilder &nb, Location loc, ValueRange c) {
    SmallVector<Value> loaded;
    for (const Access &a : ins)
      loaded.push_back(nb.create<memref::LoadOp>(
          loc, memrefs[a.arg], linearIndex(nb, loc, a.offset, a.strides, c)));
    Value v = body(nb, loc, loaded, c);
    nb.create<memref::StoreOp>(loc, v, memrefs[output.arg],
                               linearIndex(nb, loc, output.offset, output.strides, c));
  };
  func::FuncOp fn = startKernel(op, args, memrefs, begin, end);
  Location loc = fn.getLoc();
  SmallVector<Value> coords;
  loopNest(b, loc, dims, begin, end, coords,
           [&](OpBuilder &nb, ValueRange c) { element(nb, loc, c); });
  b.create<func::ReturnOp>(loc);
  std::string name = fn.getName().str(), kept = finish(fn);
  if (kept != name || !elementRows || dims.size() == 1)
    return kept; // an earlier identical kernel, or no GPU, or rows already elements
  // The same map with every element a row: [begin, end) of the flat index.
  memrefs.clear();
  func::FuncOp flat = startKernelIn(*elementRows, name, args, memrefs, begin, end);
  int64_t total = 1;
  for (int64_t d : dims)
    total *= d;
  flat->setAttr("kiln.rows", b.getI64IntegerAttr(total));
  b.create<scf::ForOp>(loc, begin, end, indexConst(b, loc, 1), ValueRange{},
                       [&](OpBuilder &nb, Location l, Value e, ValueRange) {
                         SmallVector<Value> c(dims.size());
                         for (int64_t d = (int64_t)dims.size() - 1; d >= 0; --d) {
                           c[d] = nb.create<arith::RemUIOp>(l, e, indexConst(nb, l, dims[d]));
                           e = nb.create<arith::DivUIOp>(l, e, indexConst(nb, l, dims[d]));
                         }
                         element(nb, l, c);
                         nb.create<scf::YieldOp>(l);
                       });
  b.create<func::ReturnOp>(loc);
  return name;
}

std::string KernelEmitter::reduce(StringRef op, ArrayRef<KernelArg> args,
                                  ArrayRef<int64_t> keptIn, ArrayRef<int64_t> reducedIn,
                                  const Access &inAccess, const Access &outAccess,
                                  ReduceKind kind, int64_t &rows) {
  // Split the input's strides into its kept and reduced loop dims.
  SmallVector<int64_t> kept(keptIn), reduced(reducedIn);
  SmallVector<int64_t> inKept(inAccess.strides.begin(), inAccess.strides.begin() + kept.size());
  SmallVector<int64_t> inRed(inAccess.strides.begin() + kept.size(), inAccess.strides.end());
  SmallVector<int64_t> outKept(outAccess.strides);
  SmallVector<SmallVector<int64_t> *> keptStrides{&inKept, &outKept}, redStrides{&inRed};
  mergeDims(kept, keptStrides);
  mergeDims(reduced, redStrides);
  rows = kept[0];
  int64_t count = 1;
  for (int64_t d : reducedIn)
    count *= d;

  SmallVector<Value> memrefs;
  Value begin, end;
  func::FuncOp fn = startKernel(op, args, memrefs, begin, end);
  Location loc = fn.getLoc();
  Type f32 = b.getF32Type();
  auto cst = [&](OpBuilder &nb, double v) {
    return nb.create<arith::ConstantOp>(loc, nb.getFloatAttr(f32, v)).getResult();
  };
  SmallVector<Value> coords;
  loopNest(b, loc, kept, begin, end, coords, [&](OpBuilder &nb, ValueRange c) {
    Value base = linearIndex(nb, loc, inAccess.offset, inKept, c);
    SmallVector<Value> rc(c.begin(), c.end());
    size_t first = rc.size();
    auto element = [&](OpBuilder &fb, ValueRange all) {
      Value idx = fb.create<arith::AddIOp>(
          loc, base, linearIndex(fb, loc, 0, inRed, all.drop_front(first)));
      return fb.create<memref::LoadOp>(loc, memrefs[inAccess.arg], idx).getResult();
    };
    auto maxOf = [&](OpBuilder &fb) {
      return foldNest(fb, loc, reduced, cst(fb, -INFINITY), rc,
                      [&](OpBuilder &sb, Value acc, ValueRange all) {
                        return reductionMax(sb, loc, acc, element(sb, all));
                      },
                      first);
    };
    auto sumOf = [&](OpBuilder &fb, Value shift) {
      return foldNest(fb, loc, reduced, cst(fb, 0.0), rc,
                      [&](OpBuilder &sb, Value acc, ValueRange all) {
                        Value x = element(sb, all);
                        if (shift)
                          x = sb.create<math::ExpOp>(loc, sb.create<arith::SubFOp>(loc, x, shift));
                        return reassoc(sb.create<arith::AddFOp>(loc, acc, x));
                      },
                      first);
    };
    Value result;
    switch (kind) {
    case ReduceKind::Sum:
      result = sumOf(nb, nullptr);
      break;
    case ReduceKind::Mean:
      result = nb.create<arith::MulFOp>(loc, sumOf(nb, nullptr), cst(nb, 1.0 / count));
      break;
    case ReduceKind::Max:
      result = maxOf(nb);
      break;
    case ReduceKind::LogSumExp: {
      Value m = maxOf(nb);
      result = nb.create<arith::AddFOp>(loc, m, nb.create<math::LogOp>(loc, sumOf(nb, m)));
      break;
    }
    }
    nb.create<memref::StoreOp>(loc, result, memrefs[outAccess.arg],
                               linearIndex(nb, loc, outAccess.offset, outKept, c));
  });
  b.create<func::ReturnOp>(loc);
  return finish(fn);
}

std::string KernelEmitter::customRange(StringRef op, ArrayRef<KernelArg> args,
                                       const RangeBody &body) {
  SmallVector<Value> memrefs;
  Value begin, end;
  func::FuncOp fn = startKernel(op, args, memrefs, begin, end);
  Location loc = fn.getLoc();
  // Allocations go before everything the body builds.
  OpBuilder entry(b.getInsertionBlock(), b.getInsertionPoint());
  auto marker = b.create<arith::ConstantIndexOp>(loc, 0);
  entry.setInsertionPoint(marker);
  body(b, entry, memrefs, begin, end);
  b.create<func::ReturnOp>(loc);
  marker.erase();
  return finish(fn);
}

std::string KernelEmitter::custom(StringRef op, ArrayRef<KernelArg> args, const RowBody &body) {
  return customRange(op, args, [&](OpBuilder &ob, OpBuilder &entry, ValueRange memrefs,
                                   Value begin, Value end) {
    Location loc = ob.getUnknownLoc();
    auto loop = ob.create<scf::ForOp>(loc, begin, end, indexConst(ob, loc, 1));
    OpBuilder inner = OpBuilder::atBlockBegin(loop.getBody());
    body(inner, entry, memrefs, loop.getInductionVar());
    ob.setInsertionPointAfter(loop);
  });
}

Value KernelEmitter::RowContext::f32(double v) {
  return b.create<arith::ConstantOp>(loc, b.getFloatAttr(b.getF32Type(), v));
}

Value KernelEmitter::RowContext::load(int a, Value k) {
  Value idx = base[a];
  if (k)
    idx = b.create<arith::AddIOp>(
        loc, idx, b.create<arith::MulIOp>(loc, k, indexConst(b, loc, axisStride)));
  return b.create<memref::LoadOp>(loc, memrefs[args[a]], idx);
}

void KernelEmitter::RowContext::store(int a, Value k, Value v) {
  Value idx = base[a];
  if (k)
    idx = b.create<arith::AddIOp>(
        loc, idx, b.create<arith::MulIOp>(loc, k, indexConst(b, loc, axisStride)));
  b.create<memref::StoreOp>(loc, v, memrefs[args[a]], idx);
}

Value KernelEmitter::RowContext::fold(
    int a, double init, const std::function<Value(Value, Value, Value)> &step) {
  OpBuilder &outer = b;
  auto loop = outer.create<scf::ForOp>(
      loc, indexConst(outer, loc, 0), indexConst(outer, loc, length),
      indexConst(outer, loc, 1), ValueRange{f32(init)},
      [&](OpBuilder &nb, Location l, Value k, ValueRange acc) {
        OpBuilder::InsertionGuard guard(b);
        b.setInsertionPoint(nb.getInsertionBlock(), nb.getInsertionPoint());
        Value next = step(acc[0], load(a, k), k);
        b.create<scf::YieldOp>(l, next);
      });
  return loop.getResult(0);
}

void KernelEmitter::RowContext::forEach(int in, int out,
                                        const std::function<Value(Value, Value)> &g) {
  b.create<scf::ForOp>(loc, indexConst(b, loc, 0), indexConst(b, loc, length),
                       indexConst(b, loc, 1), ValueRange{},
                       [&](OpBuilder &nb, Location l, Value k, ValueRange) {
                         OpBuilder::InsertionGuard guard(b);
                         b.setInsertionPoint(nb.getInsertionBlock(), nb.getInsertionPoint());
                         store(out, k, g(load(in, k), k));
                         b.create<scf::YieldOp>(l);
                       });
}

std::string KernelEmitter::row(StringRef op, ArrayRef<KernelArg> args,
                               ArrayRef<int64_t> outerIn, ArrayRef<Access> accesses,
                               int64_t length, int64_t axisStride,
                               const std::function<void(RowContext &)> &bodyFn,
                               int64_t &rows) {
  SmallVector<int64_t> outer(outerIn);
  SmallVector<Access> acc(accesses);
  SmallVector<SmallVector<int64_t> *> strides;
  for (Access &a : acc)
    strides.push_back(&a.strides);
  mergeDims(outer, strides);
  rows = outer[0];

  SmallVector<Value> memrefs;
  Value begin, end;
  func::FuncOp fn = startKernel(op, args, memrefs, begin, end);
  Location loc = fn.getLoc();
  SmallVector<Value> coords;
  loopNest(b, loc, outer, begin, end, coords, [&](OpBuilder &nb, ValueRange c) {
    RowContext ctx{nb, loc, memrefs, {}, length, axisStride, {}};
    for (const Access &a : acc) {
      ctx.base.push_back(linearIndex(nb, loc, a.offset, a.strides, c));
      ctx.args.push_back(a.arg);
    }
    bodyFn(ctx);
  });
  b.create<func::ReturnOp>(loc);
  return finish(fn);
}

} // namespace kiln
