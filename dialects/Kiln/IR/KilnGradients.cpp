//===- KilnGradients.cpp - the reverse-mode rule of every kiln op ---------===//
//
// One `buildGradients` per differentiable op, in KilnOps.td order. `g` is
// the loss's gradient with respect to the op's result; each rule returns
// the gradient with respect to each operand (the vector-Jacobian product),
// summed back to the operand's shape where the op broadcast it. Rules are
// written from kiln ops, so the reference evaluator, fusion and codegen see
// gradients as ordinary graph.
//
//===----------------------------------------------------------------------===//
#include "Kiln/IR/KilnBuilder.h"
#include "Kiln/IR/KilnOps.h"

#include <cmath>
#include <numeric>

using namespace mlir;

#include "Kiln/IR/KilnGradientInterface.cpp.inc"

namespace kiln {
namespace {

/// A rule for a one-operand op: `dx(k, g)` gives the operand's gradient.
template <typename Fn>
LogicalResult unary(Operation *op, OpBuilder &b, ArrayRef<Value> resultGrads,
                    SmallVectorImpl<Value> &operandGrads, Fn dx) {
  KilnBuilder k(b, op->getLoc());
  operandGrads.push_back(dx(k, resultGrads[0]));
  return success();
}

/// A rule for a broadcasting binary op: `dxdy(k, g)` gives the two
/// gradients at the result's shape; they are summed to the operand shapes.
template <typename Fn>
LogicalResult binary(Operation *op, OpBuilder &b, ArrayRef<Value> resultGrads,
                     SmallVectorImpl<Value> &operandGrads, Fn dxdy) {
  KilnBuilder k(b, op->getLoc());
  auto [dx, dy] = dxdy(k, resultGrads[0]);
  operandGrads.push_back(k.sumToShape(dx, op->getOperand(0).getType()));
  operandGrads.push_back(k.sumToShape(dy, op->getOperand(1).getType()));
  return success();
}

int64_t reducedCount(Value input, ArrayRef<int64_t> axes) {
  int64_t n = 1;
  for (int64_t a : axes)
    n *= shapeOf(input)[a];
  return n;
}

} // namespace

//===----------------------------------------------------------------------===//
// Elementwise
//===----------------------------------------------------------------------===//

// d(-x) = -g
LogicalResult NegOp::buildGradients(OpBuilder &b, ArrayRef<Value> rg,
                                    SmallVectorImpl<Value> &og) {
  return unary(*this, b, rg, og, [](KilnBuilder &k, Value g) { return k.neg(g); });
}

// d(e^x) = g·e^x
LogicalResult ExpOp::buildGradients(OpBuilder &b, ArrayRef<Value> rg,
                                    SmallVectorImpl<Value> &og) {
  return unary(*this, b, rg, og,
               [&](KilnBuilder &k, Value g) { return k.mul(g, getResult()); });
}

// d(e^x - 1) = g·e^x
LogicalResult ExpM1Op::buildGradients(OpBuilder &b, ArrayRef<Value> rg,
                                      SmallVectorImpl<Value> &og) {
  return unary(*this, b, rg, og,
               [&](KilnBuilder &k, Value g) { return k.mul(g, k.exp(getInput())); });
}

// d(ln x) = g/x
LogicalResult LogOp::buildGradients(OpBuilder &b, ArrayRef<Value> rg,
                                    SmallVectorImpl<Value> &og) {
  return unary(*this, b, rg, og,
               [&](KilnBuilder &k, Value g) { return k.div(g, getInput()); });
}

// d(√x) = g/(2√x)
LogicalResult SqrtOp::buildGradients(OpBuilder &b, ArrayRef<Value> rg,
                                     SmallVectorImpl<Value> &og) {
  return unary(*this, b, rg, og, [&](KilnBuilder &k, Value g) {
    return k.div(g, k.mul(k.scalar(2.0), getResult()));
  });
}

// d(x^-½) = -½·g·y³
LogicalResult RsqrtOp::buildGradients(OpBuilder &b, ArrayRef<Value> rg,
                                      SmallVectorImpl<Value> &og) {
  return unary(*this, b, rg, og, [&](KilnBuilder &k, Value g) {
    Value y = getResult();
    return k.mul(k.mul(g, k.scalar(-0.5)), k.mul(y, k.mul(y, y)));
  });
}

// d(tanh x) = g·(1 - y²)
LogicalResult TanhOp::buildGradients(OpBuilder &b, ArrayRef<Value> rg,
                                     SmallVectorImpl<Value> &og) {
  return unary(*this, b, rg, og, [&](KilnBuilder &k, Value g) {
    Value y = getResult();
    return k.mul(g, k.sub(k.scalar(1.0), k.mul(y, y)));
  });
}

// d(σ(x)) = g·y·(1 - y)
LogicalResult SigmoidOp::buildGradients(OpBuilder &b, ArrayRef<Value> rg,
                                        SmallVectorImpl<Value> &og) {
  return unary(*this, b, rg, og, [&](KilnBuilder &k, Value g) {
    Value y = getResult();
    return k.mul(g, k.mul(y, k.sub(k.scalar(1.0), y)));
  });
}

// d(max(x, 0)) = g where x > 0, else 0 (PyTorch: 0 at x = 0)
LogicalResult ReluOp::buildGradients(OpBuilder &b, ArrayRef<Value> rg,
                                     SmallVectorImpl<Value> &og) {
  return unary(*this, b, rg, og, [&](KilnBuilder &k, Value g) {
    return k.select(k.compare("gt", getInput(), k.scalar(0.0)), g, k.scalar(0.0));
  });
}

// d|x| = g·sign(x), sign(0) = 0
LogicalResult AbsOp::buildGradients(OpBuilder &b, ArrayRef<Value> rg,
                                    SmallVectorImpl<Value> &og) {
  return unary(*this, b, rg, og, [&](KilnBuilder &k, Value g) {
    Value x = getInput(), zero = k.scalar(0.0);
    return k.select(k.compare("gt", x, zero), g,
                    k.select(k.compare("lt", x, zero), k.neg(g), zero));
  });
}

// d(erf x) = g·(2/√π)·e^(-x²)
LogicalResult ErfOp::buildGradients(OpBuilder &b, ArrayRef<Value> rg,
                                    SmallVectorImpl<Value> &og) {
  return unary(*this, b, rg, og, [&](KilnBuilder &k, Value g) {
    Value x = getInput();
    return k.mul(k.mul(g, k.scalar(2.0 / std::sqrt(M_PI))),
                 k.exp(k.neg(k.mul(x, x))));
  });
}

// exact:  d(x·Φ(x)) = g·(Φ(x) + x·φ(x)),  Φ(x) = ½(1 + erf(x/√2))
// tanh:   d = g·(½(1 + t) + ½x(1 - t²)·c(1 + 3a·x²)),  t = tanh(c(x + a·x³))
LogicalResult GeluOp::buildGradients(OpBuilder &b, ArrayRef<Value> rg,
                                     SmallVectorImpl<Value> &og) {
  bool exact = getApproximate() == "none";
  return unary(*this, b, rg, og, [&](KilnBuilder &k, Value g) {
    Value x = getInput(), half = k.scalar(0.5), one = k.scalar(1.0);
    Value x2 = k.mul(x, x);
    if (exact) {
      Value cdf = k.mul(half, k.add(one, k.erf(k.mul(x, k.scalar(M_SQRT1_2)))));
      Value pdf = k.mul(k.scalar(0.5 * M_2_SQRTPI * M_SQRT1_2),
                        k.exp(k.mul(x2, k.scalar(-0.5))));
      return k.mul(g, k.add(cdf, k.mul(x, pdf)));
    }
    const double c = std::sqrt(2.0 / M_PI), a = 0.044715;
    Value t = k.tanh(k.mul(k.scalar(c), k.add(x, k.mul(k.scalar(a), k.mul(x2, x)))));
    Value dinner = k.mul(k.scalar(c), k.add(one, k.mul(k.scalar(3 * a), x2)));
    Value left = k.mul(half, k.add(one, t));
    Value right = k.mul(k.mul(half, x), k.mul(k.sub(one, k.mul(t, t)), dinner));
    return k.mul(g, k.add(left, right));
  });
}

// d(x + y) = (g, g)
LogicalResult AddOp::buildGradients(OpBuilder &b, ArrayRef<Value> rg,
                                    SmallVectorImpl<Value> &og) {
  return binary(*this, b, rg, og,
                [](KilnBuilder &, Value g) { return std::pair{g, g}; });
}

// d(x - y) = (g, -g)
LogicalResult SubOp::buildGradients(OpBuilder &b, ArrayRef<Value> rg,
                                    SmallVectorImpl<Value> &og) {
  return binary(*this, b, rg, og,
                [](KilnBuilder &k, Value g) { return std::pair{g, k.neg(g)}; });
}

// d(x·y) = (g·y, g·x)
LogicalResult MulOp::buildGradients(OpBuilder &b, ArrayRef<Value> rg,
                                    SmallVectorImpl<Value> &og) {
  return binary(*this, b, rg, og, [&](KilnBuilder &k, Value g) {
    return std::pair{k.mul(g, getRhs()), k.mul(g, getLhs())};
  });
}

// d(x/y) = (g/y, -g·(x/y)/y)
LogicalResult DivOp::buildGradients(OpBuilder &b, ArrayRef<Value> rg,
                                    SmallVectorImpl<Value> &og) {
  return binary(*this, b, rg, og, [&](KilnBuilder &k, Value g) {
    Value gy = k.div(g, getRhs());
    return std::pair{gy, k.neg(k.mul(gy, getResult()))};
  });
}

// d(x^y) = (g·y·x^(y-1), g·x^y·ln x)
LogicalResult PowOp::buildGradients(OpBuilder &b, ArrayRef<Value> rg,
                                    SmallVectorImpl<Value> &og) {
  return binary(*this, b, rg, og, [&](KilnBuilder &k, Value g) {
    Value x = getLhs(), y = getRhs();
    Value dx = k.mul(g, k.mul(y, k.pow(x, k.sub(y, k.scalar(1.0)))));
    Value dy = k.mul(g, k.mul(getResult(), k.log(x)));
    return std::pair{dx, dy};
  });
}

// d max(x, y): g goes to x where x >= y (ties to x), else to y.
LogicalResult MaxOp::buildGradients(OpBuilder &b, ArrayRef<Value> rg,
                                    SmallVectorImpl<Value> &og) {
  return binary(*this, b, rg, og, [&](KilnBuilder &k, Value g) {
    Value takeX = k.compare("ge", getLhs(), getRhs()), zero = k.scalar(0.0);
    return std::pair{k.select(takeX, g, zero), k.select(takeX, zero, g)};
  });
}

// d min(x, y): g goes to x where x <= y (ties to x), else to y.
LogicalResult MinOp::buildGradients(OpBuilder &b, ArrayRef<Value> rg,
                                    SmallVectorImpl<Value> &og) {
  return binary(*this, b, rg, og, [&](KilnBuilder &k, Value g) {
    Value takeX = k.compare("le", getLhs(), getRhs()), zero = k.scalar(0.0);
    return std::pair{k.select(takeX, g, zero), k.select(takeX, zero, g)};
  });
}

// d(c ? x : y) = (none, g where c, g where !c)
LogicalResult SelectOp::buildGradients(OpBuilder &b, ArrayRef<Value> rg,
                                       SmallVectorImpl<Value> &og) {
  KilnBuilder k(b, getLoc());
  Value g = rg[0], zero = k.scalar(0.0);
  og.push_back(nullptr);
  og.push_back(k.sumToShape(k.select(getCondition(), g, zero), getOnTrue().getType()));
  og.push_back(k.sumToShape(k.select(getCondition(), zero, g), getOnFalse().getType()));
  return success();
}

//===----------------------------------------------------------------------===//
// Reductions
//===----------------------------------------------------------------------===//

// d Σx = g broadcast over the reduced axes
LogicalResult SumOp::buildGradients(OpBuilder &b, ArrayRef<Value> rg,
                                    SmallVectorImpl<Value> &og) {
  KilnBuilder k(b, getLoc());
  og.push_back(k.expandReduced(rg[0], getInput().getType(), getAxes(), getKeepdim()));
  return success();
}

// d mean(x) = g/n broadcast over the reduced axes
LogicalResult MeanOp::buildGradients(OpBuilder &b, ArrayRef<Value> rg,
                                     SmallVectorImpl<Value> &og) {
  KilnBuilder k(b, getLoc());
  Value g = k.div(rg[0], k.scalar(reducedCount(getInput(), getAxes())));
  og.push_back(k.expandReduced(g, getInput().getType(), getAxes(), getKeepdim()));
  return success();
}

// d max(x) = g shared equally by the elements equal to the max (PyTorch amax)
LogicalResult ReduceMaxOp::buildGradients(OpBuilder &b, ArrayRef<Value> rg,
                                          SmallVectorImpl<Value> &og) {
  KilnBuilder k(b, getLoc());
  Type type = getInput().getType();
  Value y = k.expandReduced(getResult(), type, getAxes(), getKeepdim());
  Value mask = k.toF32(k.compare("eq", getInput(), y));
  Value count = k.sum(mask, getAxes(), /*keepdim=*/true);
  Value g = k.expandReduced(rg[0], type, getAxes(), getKeepdim());
  og.push_back(k.div(k.mul(g, mask), count));
  return success();
}

// d logsumexp(x) = g·e^(x - y) = g·softmax(x)
LogicalResult LogSumExpOp::buildGradients(OpBuilder &b, ArrayRef<Value> rg,
                                          SmallVectorImpl<Value> &og) {
  KilnBuilder k(b, getLoc());
  Type type = getInput().getType();
  Value y = k.expandReduced(getResult(), type, getAxes(), getKeepdim());
  Value g = k.expandReduced(rg[0], type, getAxes(), getKeepdim());
  og.push_back(k.mul(g, k.exp(k.sub(getInput(), y))));
  return success();
}

//===----------------------------------------------------------------------===//
// Shape ops
//===----------------------------------------------------------------------===//

// d reshape(x) = reshape(g) back
LogicalResult ReshapeOp::buildGradients(OpBuilder &b, ArrayRef<Value> rg,
                                        SmallVectorImpl<Value> &og) {
  KilnBuilder k(b, getLoc());
  og.push_back(k.reshape(rg[0], shapeOf(getInput())));
  return success();
}

// d transpose(x, perm) = transpose(g, perm⁻¹)
LogicalResult TransposeOp::buildGradients(OpBuilder &b, ArrayRef<Value> rg,
                                          SmallVectorImpl<Value> &og) {
  KilnBuilder k(b, getLoc());
  ArrayRef<int64_t> perm = getPerm();
  SmallVector<int64_t> inverse(perm.size());
  for (auto [i, p] : llvm::enumerate(perm))
    inverse[p] = i;
  og.push_back(k.transpose(rg[0], inverse));
  return success();
}

// d broadcast(x) = g summed over the broadcast dimensions
LogicalResult BroadcastOp::buildGradients(OpBuilder &b, ArrayRef<Value> rg,
                                          SmallVectorImpl<Value> &og) {
  KilnBuilder k(b, getLoc());
  og.push_back(k.sumToShape(rg[0], getInput().getType()));
  return success();
}

// d slice(x) = g scattered back: zero padding with stride - 1 between
LogicalResult SliceOp::buildGradients(OpBuilder &b, ArrayRef<Value> rg,
                                      SmallVectorImpl<Value> &og) {
  KilnBuilder k(b, getLoc());
  ArrayRef<int64_t> in = shapeOf(getInput()), out = shapeOf(getResult());
  SmallVector<int64_t> high, interior;
  for (size_t d = 0; d < in.size(); ++d) {
    int64_t last = getStarts()[d] + (out[d] - 1) * getStrides()[d];
    high.push_back(in[d] - 1 - last);
    interior.push_back(getStrides()[d] - 1);
  }
  og.push_back(k.pad(rg[0], getStarts(), high, interior));
  return success();
}

// d concat(x₀, x₁, ...) = the matching slices of g
LogicalResult ConcatOp::buildGradients(OpBuilder &b, ArrayRef<Value> rg,
                                       SmallVectorImpl<Value> &og) {
  KilnBuilder k(b, getLoc());
  int64_t axis = getAxis(), offset = 0;
  SmallVector<int64_t> starts(shapeOf(rg[0]).size(), 0),
      limits(shapeOf(rg[0])), strides(starts.size(), 1);
  for (Value input : getInputs()) {
    starts[axis] = offset;
    offset += shapeOf(input)[axis];
    limits[axis] = offset;
    og.push_back(k.slice(rg[0], starts, limits, strides));
  }
  return success();
}

// d split(x) = concat of the pieces' gradients (zeros for unused pieces)
LogicalResult SplitOp::buildGradients(OpBuilder &b, ArrayRef<Value> rg,
                                      SmallVectorImpl<Value> &og) {
  KilnBuilder k(b, getLoc());
  SmallVector<Value> pieces;
  for (auto [g, result] : llvm::zip(rg, getResults()))
    pieces.push_back(g ? g : k.zeros(result.getType()));
  og.push_back(k.concat(pieces, getAxis()));
  return success();
}

// d pad(x) = the strided slice of g where x landed
LogicalResult PadOp::buildGradients(OpBuilder &b, ArrayRef<Value> rg,
                                    SmallVectorImpl<Value> &og) {
  KilnBuilder k(b, getLoc());
  ArrayRef<int64_t> in = shapeOf(getInput());
  SmallVector<int64_t> limits, strides;
  for (size_t d = 0; d < in.size(); ++d) {
    strides.push_back(getInterior()[d] + 1);
    limits.push_back(getLow()[d] + (in[d] - 1) * strides.back() + 1);
  }
  og.push_back(k.slice(rg[0], getLow(), limits, strides));
  return success();
}

//===----------------------------------------------------------------------===//
// Contraction
//===----------------------------------------------------------------------===//

// C = op(A)·op(B):  d op(A) = dC·op(B)ᵀ,  d op(B) = op(A)ᵀ·dC, each written
// as one matmul with transpose flags and summed over broadcast batch dims.
// A rank-2 operand against batched activations (a weight) folds the batch
// into the row dimension instead: one [K, BT]·[BT, N] product.
LogicalResult MatmulOp::buildGradients(OpBuilder &b, ArrayRef<Value> rg,
                                       SmallVectorImpl<Value> &og) {
  KilnBuilder k(b, getLoc());
  Value a = getLhs(), w = getRhs(), g = rg[0];
  bool ta = getTransposeLhs(), tb = getTransposeRhs();
  auto rows = [&](Value v) {
    ArrayRef<int64_t> s = shapeOf(v);
    int64_t n = std::accumulate(s.begin(), s.end() - 1, int64_t{1},
                                std::multiplies<int64_t>());
    return k.reshape(v, {n, s.back()});
  };
  Value da;
  if (!ta)
    da = k.matmul(g, w, false, !tb);
  else
    da = k.matmul(w, g, tb, true);
  og.push_back(k.sumToShape(da, a.getType()));
  Value db;
  if (shapeOf(w).size() == 2 && shapeOf(a).size() > 2 && !ta)
    db = tb ? k.matmul(rows(g), rows(a), /*transposeX=*/true)
            : k.matmul(rows(a), rows(g), /*transposeX=*/true);
  else if (!tb)
    db = k.matmul(a, g, !ta, false);
  else
    db = k.matmul(g, a, true, ta);
  og.push_back(k.sumToShape(db, w.getType()));
  return success();
}

//===----------------------------------------------------------------------===//
// Convolution
//===----------------------------------------------------------------------===//

// y = conv(x, w): dx is the transposed convolution of dy with w, dw the
// correlation of x with dy summed over the batch; both keep the forward's
// geometry (and name the size the stride's rounding loses).
LogicalResult Conv2dOp::buildGradients(OpBuilder &b, ArrayRef<Value> rg,
                                       SmallVectorImpl<Value> &og) {
  SmallVector<NamedAttribute> geometry{b.getNamedAttr("strides", getStridesAttr()),
                                       b.getNamedAttr("padding", getPaddingAttr()),
                                       b.getNamedAttr("dilation", getDilationAttr()),
                                       b.getNamedAttr("groups", getGroupsAttr())};
  ArrayRef<int64_t> x = shapeOf(getInput()), w = shapeOf(getWeight());
  auto with = [&](StringRef name, ArrayRef<int64_t> size) {
    SmallVector<NamedAttribute> attrs = geometry;
    attrs.push_back(b.getNamedAttr(name, b.getDenseI64ArrayAttr(size)));
    return attrs;
  };
  og.push_back(b.create<Conv2dInputGradOp>(getLoc(), ValueRange{rg[0], getWeight()},
                                           with("input_size", x.drop_front(2))));
  og.push_back(b.create<Conv2dWeightGradOp>(getLoc(), ValueRange{getInput(), rg[0]},
                                            with("kernel_size", w.drop_front(2))));
  return success();
}

//===----------------------------------------------------------------------===//
// Pooling
//===----------------------------------------------------------------------===//

namespace {

/// The window attributes of pool `op` and `input_size`, for its gradient op.
template <typename OpTy>
SmallVector<NamedAttribute> poolGradAttrs(OpBuilder &b, OpTy op) {
  return {b.getNamedAttr("kernel_size", op.getKernelSizeAttr()),
          b.getNamedAttr("strides", op.getStridesAttr()),
          b.getNamedAttr("padding", op.getPaddingAttr()),
          b.getNamedAttr("dilation", op.getDilationAttr()),
          b.getNamedAttr("input_size", b.getDenseI64ArrayAttr(shapeOf(op.getInput()).drop_front(2)))};
}

} // namespace

// dx[i] = Σ g over the windows whose maximum was i (the kept indices)
LogicalResult MaxPool2dOp::buildGradients(OpBuilder &b, ArrayRef<Value> rg,
                                          SmallVectorImpl<Value> &og) {
  og.push_back(b.create<MaxPool2dGradOp>(getLoc(), ValueRange{rg[0], getIndices()},
                                         poolGradAttrs(b, *this)));
  return success();
}

// dx[i] = Σ g / divisor over the windows that cover i
LogicalResult AvgPool2dOp::buildGradients(OpBuilder &b, ArrayRef<Value> rg,
                                          SmallVectorImpl<Value> &og) {
  SmallVector<NamedAttribute> attrs = poolGradAttrs(b, *this);
  attrs.push_back(b.getNamedAttr("count_include_pad", getCountIncludePadAttr()));
  og.push_back(b.create<AvgPool2dGradOp>(getLoc(), ValueRange{rg[0]}, attrs));
  return success();
}

//===----------------------------------------------------------------------===//
// Composites
//===----------------------------------------------------------------------===//

// d softmax = y·(g - Σ g·y)
LogicalResult SoftmaxOp::buildGradients(OpBuilder &b, ArrayRef<Value> rg,
                                        SmallVectorImpl<Value> &og) {
  KilnBuilder k(b, getLoc());
  Value y = getResult(), g = rg[0];
  Value dot = k.sum(k.mul(g, y), {static_cast<int64_t>(getAxis())}, /*keepdim=*/true);
  og.push_back(k.mul(y, k.sub(g, dot)));
  return success();
}

// d log_softmax = g - e^y·Σ g
LogicalResult LogSoftmaxOp::buildGradients(OpBuilder &b, ArrayRef<Value> rg,
                                           SmallVectorImpl<Value> &og) {
  KilnBuilder k(b, getLoc());
  Value g = rg[0];
  Value total = k.sum(g, {static_cast<int64_t>(getAxis())}, /*keepdim=*/true);
  og.push_back(k.sub(g, k.mul(k.exp(getResult()), total)));
  return success();
}

// y = x/d, d = max(‖x‖, eps):  dx = g/d - x·(Σ g·x)/(d²‖x‖) where ‖x‖ > eps
LogicalResult L2NormalizeOp::buildGradients(OpBuilder &b, ArrayRef<Value> rg,
                                            SmallVectorImpl<Value> &og) {
  KilnBuilder k(b, getLoc());
  Value x = getInput(), g = rg[0];
  SmallVector<int64_t> axis{static_cast<int64_t>(getAxis())};
  Value norm = k.sqrt(k.sum(k.mul(x, x), axis, true));
  Value eps = k.scalar(getEps().convertToDouble());
  Value d = k.max(norm, eps);
  Value dot = k.sum(k.mul(g, x), axis, true);
  Value radial = k.div(k.mul(x, dot), k.mul(k.mul(d, d), norm));
  Value clamped = k.compare("gt", norm, eps);
  og.push_back(k.sub(k.div(g, d), k.select(clamped, radial, k.scalar(0.0))));
  return success();
}

// x̂ = (x - μ)·r, r = 1/√(var + eps), y = x̂·γ + β (over the last dim):
//   dx = r·(g·γ - mean(g·γ) - x̂·mean(g·γ·x̂)),  dγ = Σ g·x̂,  dβ = Σ g
LogicalResult LayerNormOp::buildGradients(OpBuilder &b, ArrayRef<Value> rg,
                                          SmallVectorImpl<Value> &og) {
  KilnBuilder k(b, getLoc());
  Value x = getInput(), g = rg[0];
  SmallVector<int64_t> last{static_cast<int64_t>(shapeOf(x).size()) - 1};
  Value centred = k.sub(x, k.mean(x, last, true));
  Value var = k.mean(k.mul(centred, centred), last, true);
  Value r = k.rsqrt(k.add(var, k.scalar(getEps().convertToDouble())));
  Value xhat = k.mul(centred, r);
  Value dxhat = k.mul(g, getScale());
  Value dx = k.mul(r, k.sub(k.sub(dxhat, k.mean(dxhat, last, true)),
                             k.mul(xhat, k.mean(k.mul(dxhat, xhat), last, true))));
  og.push_back(dx);
  og.push_back(k.sumToShape(k.mul(g, xhat), getScale().getType()));
  og.push_back(k.sumToShape(g, getBias().getType()));
  return success();
}

// y = R_h·x·R_wᵀ per image:  dx = R_hᵀ·g·R_w (the resize matrices as
// constants)
LogicalResult ResizeBilinearOp::buildGradients(OpBuilder &b, ArrayRef<Value> rg,
                                               SmallVectorImpl<Value> &og) {
  KilnBuilder k(b, getLoc());
  ArrayRef<int64_t> in = shapeOf(getInput()), out = shapeOf(getResult());
  int64_t h = in[in.size() - 2], w = in.back();
  int64_t oh = out[out.size() - 2], ow = out.back();
  Value rh = k.constant({oh, h}, bilinearResizeMatrix(h, oh));
  Value rw = k.constant({ow, w}, bilinearResizeMatrix(w, ow));
  og.push_back(k.matmul(rh, k.matmul(rg[0], rw), /*transposeX=*/true));
  return success();
}

//===----------------------------------------------------------------------===//
// Communication
//===----------------------------------------------------------------------===//

// The step averages every rank's gradients, so the mean's gradient is the
// mean of its results' gradients over the ranks (one more all-reduce).
LogicalResult AllReduceOp::buildGradients(OpBuilder &b, ArrayRef<Value> rg,
                                          SmallVectorImpl<Value> &og) {
  SmallVector<Value> flowing;
  for (Value g : rg)
    if (g)
      flowing.push_back(g);
  AllReduceOp reduce = KilnBuilder(b, getLoc()).allReduce(flowing);
  auto next = reduce.getResults().begin();
  for (Value g : rg)
    og.push_back(g ? Value(*next++) : Value());
  return success();
}

} // namespace kiln
