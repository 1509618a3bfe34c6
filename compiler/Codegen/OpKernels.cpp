//===- OpKernels.cpp - the kernels of one kiln op -------------------------===//
//
// Each op's scalar formula (scalarOp) and the loop nest it runs in. The
// formulas must agree with the reference evaluator
// (compiler/Reference/ReferenceEvaluator.cpp); KernelTest checks every op
// against it.
//
//===----------------------------------------------------------------------===//
#include "compiler/Codegen/OpKernels.h"

#include "Kiln/IR/KilnOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "llvm/ADT/TypeSwitch.h"

#include <cmath>

using namespace mlir;

namespace kiln {
namespace {

using Shape = SmallVector<int64_t>;

Shape shapeOf(const Buffer &b) { return Shape(b.shape.begin(), b.shape.end()); }

int64_t elements(const Buffer &b) {
  int64_t n = 1;
  for (int64_t d : b.shape)
    n *= d;
  return n;
}

/// The name of the op for thunk listings: its NameLoc, else its op name.
std::string opLabel(Operation *op) {
  if (auto name = dyn_cast<NameLoc>(op->getLoc()))
    return name.getName().str();
  return op->getName().getStringRef().str();
}

/// Strides of a buffer of `shape` read over loop dims `out` with numpy
/// broadcasting (0 where the buffer has size 1 or no dimension).
Shape broadcastStrides(ArrayRef<int64_t> shape, ArrayRef<int64_t> out) {
  Shape rm = rowMajorStrides(shape), s(out.size(), 0);
  size_t lead = out.size() - shape.size();
  for (size_t d = lead; d < out.size(); ++d)
    if (shape[d - lead] != 1)
      s[d] = rm[d - lead];
  return s;
}

/// Collects a kernel's distinct buffers as its arguments.
class Launch {
public:
  Launch(const std::vector<Buffer> &buffers, MLIRContext *ctx) : buffers(buffers), ctx(ctx) {}

  int arg(int64_t buffer) {
    for (auto [i, id] : llvm::enumerate(ids))
      if (id == buffer)
        return i;
    ids.push_back(buffer);
    const Buffer &b = buffers[buffer];
    Type t = b.dtype == "f32"   ? Type(Float32Type::get(ctx))
             : b.dtype == "i32" ? Type(IntegerType::get(ctx, 32))
                                : Type(IntegerType::get(ctx, 1));
    args.push_back({t, std::max<int64_t>(1, elements(b))});
    return ids.size() - 1;
  }

  const std::vector<Buffer> &buffers;
  MLIRContext *ctx;
  SmallVector<int64_t> ids;
  SmallVector<KernelArg> args;
};

Value f32(OpBuilder &b, Location loc, double v) {
  return b.create<arith::ConstantOp>(loc, b.getFloatAttr(b.getF32Type(), v));
}

} // namespace

Value scalarOp(OpBuilder &b, Location loc, Operation *op, ValueRange x) {
  auto one = [&] { return f32(b, loc, 1.0); };
  return llvm::TypeSwitch<Operation *, Value>(op)
      .Case([&](NegOp) { return b.create<arith::NegFOp>(loc, x[0]); })
      .Case([&](ExpOp) { return b.create<math::ExpOp>(loc, x[0]); })
      .Case([&](ExpM1Op) { return b.create<math::ExpM1Op>(loc, x[0]); })
      .Case([&](LogOp) { return b.create<math::LogOp>(loc, x[0]); })
      .Case([&](SqrtOp) { return b.create<math::SqrtOp>(loc, x[0]); })
      .Case([&](RsqrtOp) { return b.create<math::RsqrtOp>(loc, x[0]); })
      .Case([&](TanhOp) { return b.create<math::TanhOp>(loc, x[0]); })
      .Case([&](SigmoidOp) -> Value {
        Value e = b.create<math::ExpOp>(loc, b.create<arith::NegFOp>(loc, x[0]));
        return b.create<arith::DivFOp>(loc, one(), b.create<arith::AddFOp>(loc, one(), e));
      })
      .Case([&](ReluOp) { return b.create<arith::MaximumFOp>(loc, x[0], f32(b, loc, 0.0)); })
      .Case([&](AbsOp) { return b.create<math::AbsFOp>(loc, x[0]); })
      .Case([&](ErfOp) { return b.create<math::ErfOp>(loc, x[0]); })
      .Case([&](FloorOp) { return b.create<math::FloorOp>(loc, x[0]); })
      .Case([&](StopGradientOp) { return x[0]; })
      .Case([&](GeluOp g) -> Value {
        Value half = f32(b, loc, 0.5), v = x[0];
        Value inner;
        if (g.getApproximate() == "none") {
          inner = b.create<math::ErfOp>(loc, b.create<arith::MulFOp>(loc, v, f32(b, loc, M_SQRT1_2)));
        } else {
          Value cube = b.create<arith::MulFOp>(loc, v, b.create<arith::MulFOp>(loc, v, v));
          Value arg = b.create<arith::AddFOp>(
              loc, v, b.create<arith::MulFOp>(loc, cube, f32(b, loc, 0.044715)));
          inner = b.create<math::TanhOp>(
              loc, b.create<arith::MulFOp>(loc, arg, f32(b, loc, std::sqrt(2.0 / M_PI))));
        }
        return b.create<arith::MulFOp>(
            loc, b.create<arith::MulFOp>(loc, half, v), b.create<arith::AddFOp>(loc, one(), inner));
      })
      .Case([&](AddOp) { return b.create<arith::AddFOp>(loc, x[0], x[1]); })
      .Case([&](SubOp) { return b.create<arith::SubFOp>(loc, x[0], x[1]); })
      .Case([&](MulOp) { return b.create<arith::MulFOp>(loc, x[0], x[1]); })
      .Case([&](DivOp) { return b.create<arith::DivFOp>(loc, x[0], x[1]); })
      .Case([&](PowOp) { return b.create<math::PowFOp>(loc, x[0], x[1]); })
      .Case([&](MaxOp) { return b.create<arith::MaximumFOp>(loc, x[0], x[1]); })
      .Case([&](MinOp) { return b.create<arith::MinimumFOp>(loc, x[0], x[1]); })
      .Case([&](CompareOp c) -> Value {
        StringRef p = c.getPredicate();
        if (isa<FloatType>(x[0].getType())) {
          auto pred = llvm::StringSwitch<arith::CmpFPredicate>(p)
                          .Case("eq", arith::CmpFPredicate::OEQ)
                          .Case("ne", arith::CmpFPredicate::UNE)
                          .Case("lt", arith::CmpFPredicate::OLT)
                          .Case("le", arith::CmpFPredicate::OLE)
                          .Case("gt", arith::CmpFPredicate::OGT)
                          .Default(arith::CmpFPredicate::OGE);
          return b.create<arith::CmpFOp>(loc, pred, x[0], x[1]);
        }
        auto pred = llvm::StringSwitch<arith::CmpIPredicate>(p)
                        .Case("eq", arith::CmpIPredicate::eq)
                        .Case("ne", arith::CmpIPredicate::ne)
                        .Case("lt", arith::CmpIPredicate::slt)
                        .Case("le", arith::CmpIPredicate::sle)
                        .Case("gt", arith::CmpIPredicate::sgt)
                        .Default(arith::CmpIPredicate::sge);
        return b.create<arith::CmpIOp>(loc, pred, x[0], x[1]);
      })
      .Case([&](SelectOp) { return b.create<arith::SelectOp>(loc, x[0], x[1], x[2]); })
      .Case([&](CastOp c) -> Value {
        Type from = x[0].getType();
        Type to = cast<RankedTensorType>(c.getType()).getElementType();
        if (from == to)
          return x[0];
        if (to.isF32())
          return from.isInteger(1) ? b.create<arith::UIToFPOp>(loc, to, x[0]).getResult()
                                   : b.create<arith::SIToFPOp>(loc, to, x[0]).getResult();
        if (from.isF32())
          return b.create<arith::FPToSIOp>(loc, to, x[0]);
        return b.create<arith::ExtUIOp>(loc, to, x[0]); // i1 -> i32
      })
      .Default([](Operation *) { return Value(); });
}

namespace {

struct Emit {
  Operation *op;
  KernelEmitter &e;
  const std::vector<Buffer> &buffers;
  std::vector<Kernel> &kernels;
  std::vector<Thunk> &thunks;

  void add(const Launch &l, const std::string &name, int64_t rows, int64_t output,
           std::vector<int64_t> sameIndex, int64_t flopsPerElement) {
    Thunk t{Thunk::Kernel};
    t.ops = {opLabel(op)};
    auto known = std::find_if(kernels.begin(), kernels.end(),
                              [&](const Kernel &k) { return k.name == name; });
    t.kernel = known - kernels.begin();
    if (known == kernels.end())
      kernels.push_back({name, op->getName().getStringRef().str()});
    t.buffers.assign(l.ids.begin(), l.ids.end());
    t.rows = rows;
    t.outputs = {output};
    t.sameIndexInputs = std::move(sameIndex);
    for (int64_t id : l.ids)
      t.trafficBytes += buffers[id].bytes;
    t.flops = flopsPerElement * elements(buffers[output]);
    thunks.push_back(std::move(t));
  }

  /// A strided copy over `dims`: out[off_o + Σ c·so] = in[off_i + Σ c·si].
  void copy(int64_t in, int64_t inOffset, Shape inStrides, int64_t out,
            int64_t outOffset, Shape outStrides, ArrayRef<int64_t> dims) {
    Launch l(buffers, op->getContext());
    Access a{l.arg(in), inOffset, inStrides}, o{l.arg(out), outOffset, outStrides};
    int64_t rows;
    std::string name = e.map("copy", l.args, dims, {a}, o,
                             [](OpBuilder &, Location, ValueRange v, ValueRange) { return v[0]; },
                             rows);
    add(l, name, rows, out, {}, 0);
  }

  void fill(int64_t out, double value) {
    Launch l(buffers, op->getContext());
    auto s = cast<RankedTensorType>(op->getResult(0).getType()).getShape();
    Shape shape(s.begin(), s.end());
    Access o{l.arg(out), 0, rowMajorStrides(shape)};
    int64_t rows;
    std::string name = e.map("fill", l.args, shape, {}, o,
                             [=](OpBuilder &b, Location loc, ValueRange, ValueRange) {
                               return f32(b, loc, value);
                             },
                             rows);
    add(l, name, rows, out, {}, 0);
  }
};

} // namespace

LogicalResult emitOpKernels(Operation *op, KernelEmitter &emitter,
                            ArrayRef<int64_t> in, ArrayRef<int64_t> out,
                            const std::vector<Buffer> &buffers,
                            std::vector<Kernel> &kernels, std::vector<Thunk> &thunks) {
  Emit emit{op, emitter, buffers, kernels, thunks};
  MLIRContext *ctx = op->getContext();
  StringRef mnemonic = op->getName().stripDialect();
  // Shapes come from the op's values: a buffer may be viewed (reshape)
  // under another shape than it was allocated with.
  auto inShape = [&](int i) {
    auto s = cast<RankedTensorType>(op->getOperand(i).getType()).getShape();
    return Shape(s.begin(), s.end());
  };
  auto outShape = [&](int i) {
    auto s = cast<RankedTensorType>(op->getResult(i).getType()).getShape();
    return Shape(s.begin(), s.end());
  };

  // Elementwise: a map over the result with broadcast operand strides.
  if (isElementwiseMap(op) || isa<BroadcastOp>(op)) {
    Launch l(buffers, ctx);
    Shape dims = outShape(0);
    SmallVector<Access> accesses;
    std::vector<int64_t> sameIndex;
    for (auto [i, b] : llvm::enumerate(in)) {
      accesses.push_back({l.arg(b), 0, broadcastStrides(inShape(i), dims)});
      if (inShape(i) == dims)
        sameIndex.push_back(b);
    }
    Access o{l.arg(out[0]), 0, rowMajorStrides(dims)};
    bool isBroadcast = isa<BroadcastOp>(op);
    int64_t rows;
    std::string name = emitter.map(
        mnemonic, l.args, dims, accesses, o,
        [&](OpBuilder &b, Location loc, ValueRange v, ValueRange) {
          return isBroadcast ? v[0] : scalarOp(b, loc, op, v);
        },
        rows);
    emit.add(l, name, rows, out[0], sameIndex, isBroadcast ? 0 : 1);
    return success();
  }

  return llvm::TypeSwitch<Operation *, LogicalResult>(op)
      .Case<SumOp, MeanOp, ReduceMaxOp, LogSumExpOp>([&](Operation *r) {
        Shape inDims = inShape(0), rm = rowMajorStrides(inDims);
        auto axes = r->getAttrOfType<DenseI64ArrayAttr>("axes").asArrayRef();
        Shape kept, reduced, inStrides, redStrides, keptPositions;
        for (int64_t d = 0; d < (int64_t)inDims.size(); ++d)
          if (llvm::is_contained(axes, d)) {
            reduced.push_back(inDims[d]);
            redStrides.push_back(rm[d]);
          } else {
            kept.push_back(inDims[d]);
            inStrides.push_back(rm[d]);
            keptPositions.push_back(d);
          }
        // The output's strides over the kept dims (keepdim leaves 1s).
        Shape outDims = outShape(0), orm = rowMajorStrides(outDims), outStrides;
        bool keepdim = outDims.size() == inDims.size();
        for (auto [i, d] : llvm::enumerate(keptPositions))
          outStrides.push_back(keepdim ? orm[d] : orm[i]);
        inStrides.append(redStrides);
        Launch l(buffers, ctx);
        Access a{l.arg(in[0]), 0, inStrides}, o{l.arg(out[0]), 0, outStrides};
        ReduceKind kind = isa<SumOp>(r)       ? ReduceKind::Sum
                          : isa<MeanOp>(r)    ? ReduceKind::Mean
                          : isa<ReduceMaxOp>(r) ? ReduceKind::Max
                                              : ReduceKind::LogSumExp;
        int64_t rows;
        std::string name = emitter.reduce(mnemonic, l.args, kept, reduced, a, o, kind, rows);
        emit.add(l, name, rows, out[0], {}, 1);
        emit.thunks.back().flops = elements(buffers[in[0]]);
        return success();
      })
      .Case<SoftmaxOp, LogSoftmaxOp, L2NormalizeOp, ArgmaxOp, LayerNormOp>([&](Operation *r) {
        Shape inDims = inShape(0), rm = rowMajorStrides(inDims);
        int64_t axis = isa<LayerNormOp>(r) ? inDims.size() - 1
                                            : r->getAttrOfType<IntegerAttr>("axis").getInt();
        Shape outer, outerStrides;
        for (int64_t d = 0; d < (int64_t)inDims.size(); ++d)
          if (d != axis) {
            outer.push_back(inDims[d]);
            outerStrides.push_back(rm[d]);
          }
        Launch l(buffers, ctx);
        SmallVector<Access> acc{{l.arg(in[0]), 0, outerStrides}};
        bool isArgmax = isa<ArgmaxOp>(r);
        acc.push_back({l.arg(out[0]), 0,
                       isArgmax ? rowMajorStrides(outShape(0)) : outerStrides});
        if (isa<LayerNormOp>(r)) {
          acc.push_back({l.arg(in[1]), 0, Shape(outer.size(), 0)});
          acc.push_back({l.arg(in[2]), 0, Shape(outer.size(), 0)});
        }
        int64_t n = inDims[axis];
        double eps = 0.0;
        if (auto e = r->getAttrOfType<FloatAttr>("eps"))
          eps = e.getValueAsDouble();
        else if (isa<LayerNormOp>(r))
          eps = 1e-5;
        else if (isa<L2NormalizeOp>(r))
          eps = 1e-12;
        int64_t rows;
        std::string name = emitter.row(
            mnemonic, l.args, outer, acc, n, rm[axis],
            [&](KernelEmitter::RowContext &c) {
              OpBuilder &b = c.b;
              Location loc = c.loc;
              auto add = [&](Value a, Value x) { return reassoc(b.create<arith::AddFOp>(loc, a, x)); };
              auto sub = [&](Value a, Value x) { return b.create<arith::SubFOp>(loc, a, x); };
              auto mul = [&](Value a, Value x) { return b.create<arith::MulFOp>(loc, a, x); };
              auto maxOf = [&] {
                return c.fold(0, -INFINITY, [&](Value a, Value x, Value) {
                  return reductionMax(b, loc, a, x);
                });
              };
              auto sumExp = [&](Value m) {
                return c.fold(0, 0.0, [&](Value a, Value x, Value) {
                  return add(a, b.create<math::ExpOp>(loc, sub(x, m)));
                });
              };
              if (isa<SoftmaxOp>(r)) {
                Value m = maxOf();
                Value inv = b.create<arith::DivFOp>(loc, c.f32(1.0), sumExp(m));
                c.forEach(0, 1, [&](Value x, Value) {
                  return mul(b.create<math::ExpOp>(loc, sub(x, m)), inv);
                });
              } else if (isa<LogSoftmaxOp>(r)) {
                Value m = maxOf();
                Value lse = add(m, b.create<math::LogOp>(loc, sumExp(m)));
                c.forEach(0, 1, [&](Value x, Value) { return sub(x, lse); });
              } else if (isa<L2NormalizeOp>(r)) {
                Value ss = c.fold(0, 0.0, [&](Value a, Value x, Value) { return add(a, mul(x, x)); });
                Value d = b.create<arith::MaximumFOp>(loc, b.create<math::SqrtOp>(loc, ss), c.f32(eps));
                c.forEach(0, 1, [&](Value x, Value) { return b.create<arith::DivFOp>(loc, x, d); });
              } else if (isArgmax) {
                // The first index holding the maximum (indices are exact in f32).
                Value m = maxOf();
                Value first = c.fold(0, static_cast<double>(n), [&](Value a, Value x, Value k) {
                  Value kf = b.create<arith::UIToFPOp>(
                      loc, b.getF32Type(),
                      b.create<arith::IndexCastOp>(loc, b.getI64Type(), k));
                  Value hit = b.create<arith::CmpFOp>(loc, arith::CmpFPredicate::OEQ, x, m);
                  return b.create<arith::MinimumFOp>(loc, a, b.create<arith::SelectOp>(loc, hit, kf, a));
                });
                c.store(1, nullptr, b.create<arith::FPToSIOp>(loc, b.getI32Type(), first));
              } else { // layer_norm
                Value invN = c.f32(1.0 / n);
                Value mean = mul(c.fold(0, 0.0, [&](Value a, Value x, Value) { return add(a, x); }), invN);
                Value var = mul(c.fold(0, 0.0, [&](Value a, Value x, Value) {
                                  Value d = sub(x, mean);
                                  return add(a, mul(d, d));
                                }),
                                invN);
                Value rstd = b.create<math::RsqrtOp>(loc, add(var, c.f32(eps)));
                c.forEach(0, 1, [&](Value x, Value k) {
                  return add(mul(mul(sub(x, mean), rstd), c.load(2, k)), c.load(3, k));
                });
              }
            },
            rows);
        emit.add(l, name, rows, out[0], {}, 5);
        return success();
      })
      .Case([&](OneHotOp) {
        Launch l(buffers, ctx);
        Shape dims = outShape(0);
        Shape labelStrides = rowMajorStrides(inShape(0));
        labelStrides.push_back(0);
        Access a{l.arg(in[0]), 0, labelStrides}, o{l.arg(out[0]), 0, rowMajorStrides(dims)};
        int64_t rows;
        std::string name = emitter.map(
            mnemonic, l.args, dims, {a}, o,
            [](OpBuilder &b, Location loc, ValueRange v, ValueRange c) -> Value {
              Value cls = b.create<arith::IndexCastOp>(loc, b.getI32Type(), c.back());
              Value hit = b.create<arith::CmpIOp>(loc, arith::CmpIPredicate::eq, v[0], cls);
              return b.create<arith::UIToFPOp>(loc, b.getF32Type(), hit);
            },
            rows);
        emit.add(l, name, rows, out[0], {}, 1);
        return success();
      })
      .Case([&](TransposeOp t) {
        Shape rm = rowMajorStrides(inShape(0)), strides;
        for (int64_t p : t.getPerm())
          strides.push_back(rm[p]);
        Shape dims = outShape(0);
        emit.copy(in[0], 0, strides, out[0], 0, rowMajorStrides(dims), dims);
        return success();
      })
      .Case([&](SliceOp s) {
        Shape rm = rowMajorStrides(inShape(0)), strides;
        int64_t offset = 0;
        for (size_t d = 0; d < rm.size(); ++d) {
          offset += s.getStarts()[d] * rm[d];
          strides.push_back(rm[d] * s.getStrides()[d]);
        }
        Shape dims = outShape(0);
        emit.copy(in[0], offset, strides, out[0], 0, rowMajorStrides(dims), dims);
        return success();
      })
      .Case([&](PadOp p) {
        Shape orm = rowMajorStrides(outShape(0)), strides;
        int64_t offset = 0;
        for (size_t d = 0; d < orm.size(); ++d) {
          offset += p.getLow()[d] * orm[d];
          strides.push_back(orm[d] * (p.getInterior()[d] + 1));
        }
        emit.fill(out[0], 0.0);
        Shape dims = inShape(0);
        emit.copy(in[0], 0, rowMajorStrides(dims), out[0], offset, strides, dims);
        return success();
      })
      .Case([&](ConcatOp c) {
        Shape orm = rowMajorStrides(outShape(0));
        int64_t axis = c.getAxis(), at = 0;
        for (auto [i, b] : llvm::enumerate(in)) {
          Shape dims = inShape(i);
          emit.copy(b, 0, rowMajorStrides(dims), out[0], at * orm[axis], orm, dims);
          at += dims[axis];
        }
        return success();
      })
      .Case([&](SplitOp s) {
        Shape rm = rowMajorStrides(inShape(0));
        int64_t axis = s.getAxis(), at = 0;
        for (auto [i, r] : llvm::enumerate(out)) {
          Shape dims = outShape(i);
          emit.copy(in[0], at * rm[axis], rm, r, 0, rowMajorStrides(dims), dims);
          at += dims[axis];
        }
        return success();
      })
      .Default([&](Operation *o) {
        return o->emitError() << "CPU codegen does not handle '" << o->getName() << "' yet";
      });
}

} // namespace kiln
