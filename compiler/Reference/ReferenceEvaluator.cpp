//===- ReferenceEvaluator.cpp - double-precision oracle for kiln IR -------===//
//
// One function per op family, in KilnOps.td order. Index arithmetic is
// spelled out (coordinates <-> flat offsets) rather than optimised, so each
// op's semantics can be read off its loop.
//
//===----------------------------------------------------------------------===//
#include "compiler/Reference/ReferenceEvaluator.h"

#include "Kiln/IR/KilnOps.h"

#include "llvm/ADT/APFloat.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/TypeSwitch.h"

#include <cmath>
#include <numeric>

using namespace mlir;

namespace kiln {

RefTensor::RefTensor(std::vector<int64_t> s, double fill) : shape(std::move(s)) {
  int64_t n = std::accumulate(shape.begin(), shape.end(), int64_t{1},
                              std::multiplies<int64_t>());
  data.assign(n, fill);
}

RefTensor::RefTensor(std::vector<int64_t> s, std::vector<double> d)
    : shape(std::move(s)), data(std::move(d)) {}

namespace {

using Shape = std::vector<int64_t>;

Shape shapeOfType(Type t) {
  auto s = cast<RankedTensorType>(t).getShape();
  return Shape(s.begin(), s.end());
}

Shape stridesOf(const Shape &shape) {
  Shape s(shape.size(), 1);
  for (int64_t d = static_cast<int64_t>(shape.size()) - 2; d >= 0; --d)
    s[d] = s[d + 1] * shape[d + 1];
  return s;
}

/// Coordinates of flat offset `i` in `shape`.
Shape coordsOf(int64_t i, const Shape &shape) {
  Shape c(shape.size());
  for (int64_t d = static_cast<int64_t>(shape.size()) - 1; d >= 0; --d) {
    c[d] = i % shape[d];
    i /= shape[d];
  }
  return c;
}

/// Flat offset in `shape` (broadcast: a size-1 dimension reads index 0;
/// missing leading dimensions are dropped) of output coordinates `c`.
int64_t broadcastOffset(const Shape &c, const Shape &shape) {
  size_t lead = c.size() - shape.size();
  int64_t off = 0;
  for (size_t d = 0; d < shape.size(); ++d)
    off = off * shape[d] + (shape[d] == 1 ? 0 : c[lead + d]);
  return off;
}

/// `f` of each element of the broadcast of `xs` to `out`.
RefTensor elementwise(const Shape &out,
                      llvm::ArrayRef<const RefTensor *> xs,
                      const std::function<double(llvm::ArrayRef<double>)> &f) {
  RefTensor r(out);
  std::vector<double> args(xs.size());
  for (int64_t i = 0; i < r.size(); ++i) {
    Shape c = coordsOf(i, out);
    for (size_t k = 0; k < xs.size(); ++k)
      args[k] = xs[k]->data[broadcastOffset(c, xs[k]->shape)];
    r.data[i] = f(args);
  }
  return r;
}

double gelu(double x, bool exact) {
  if (exact)
    return 0.5 * x * (1.0 + std::erf(x * M_SQRT1_2));
  const double c = std::sqrt(2.0 / M_PI);
  return 0.5 * x * (1.0 + std::tanh(c * (x + 0.044715 * x * x * x)));
}

std::optional<double> unary(Operation *op, double x) {
  return llvm::TypeSwitch<Operation *, std::optional<double>>(op)
      .Case([&](NegOp) { return -x; })
      .Case([&](ExpOp) { return std::exp(x); })
      .Case([&](ExpM1Op) { return std::expm1(x); })
      .Case([&](LogOp) { return std::log(x); })
      .Case([&](SqrtOp) { return std::sqrt(x); })
      .Case([&](RsqrtOp) { return 1.0 / std::sqrt(x); })
      .Case([&](TanhOp) { return std::tanh(x); })
      .Case([&](SigmoidOp) { return 1.0 / (1.0 + std::exp(-x)); })
      .Case([&](ReluOp) { return x > 0 ? x : 0.0; })
      .Case([&](AbsOp) { return std::fabs(x); })
      .Case([&](ErfOp) { return std::erf(x); })
      .Case([&](FloorOp) { return std::floor(x); })
      .Case([&](StopGradientOp) { return x; })
      .Case([&](GeluOp g) { return gelu(x, g.getApproximate() == "none"); })
      .Default([](Operation *) { return std::nullopt; });
}

std::optional<double> binary(Operation *op, double x, double y) {
  return llvm::TypeSwitch<Operation *, std::optional<double>>(op)
      .Case([&](AddOp) { return x + y; })
      .Case([&](SubOp) { return x - y; })
      .Case([&](MulOp) { return x * y; })
      .Case([&](DivOp) { return x / y; })
      .Case([&](PowOp) { return std::pow(x, y); })
      .Case([&](MaxOp) { return std::max(x, y); })
      .Case([&](MinOp) { return std::min(x, y); })
      .Case([&](CompareOp c) -> std::optional<double> {
        StringRef p = c.getPredicate();
        bool r = p == "eq" ? x == y : p == "ne" ? x != y : p == "lt" ? x < y
               : p == "le" ? x <= y : p == "gt" ? x > y : x >= y;
        return r ? 1.0 : 0.0;
      })
      .Default([](Operation *) { return std::nullopt; });
}

/// Reduction of `x` over `axes` with `combine`, starting each output at
/// `init`; the result keeps the reduced dims as 1 (callers reshape).
RefTensor reduce(const RefTensor &x, llvm::ArrayRef<int64_t> axes, double init,
                 const std::function<double(double, double)> &combine) {
  Shape kept = x.shape;
  for (int64_t a : axes)
    kept[a] = 1;
  RefTensor r(kept, init);
  for (int64_t i = 0; i < x.size(); ++i) {
    int64_t o = broadcastOffset(coordsOf(i, x.shape), kept);
    r.data[o] = combine(r.data[o], x.data[i]);
  }
  return r;
}

RefTensor reduceOp(Operation *op, const RefTensor &x, llvm::ArrayRef<int64_t> axes) {
  auto sum = [](double a, double b) { return a + b; };
  auto max = [](double a, double b) { return std::max(a, b); };
  return llvm::TypeSwitch<Operation *, RefTensor>(op)
      .Case([&](SumOp) { return reduce(x, axes, 0.0, sum); })
      .Case([&](MeanOp) {
        RefTensor r = reduce(x, axes, 0.0, sum);
        double n = static_cast<double>(x.size()) / r.size();
        for (double &v : r.data)
          v /= n;
        return r;
      })
      .Case([&](ReduceMaxOp) { return reduce(x, axes, -INFINITY, max); })
      .Case([&](LogSumExpOp) {
        RefTensor m = reduce(x, axes, -INFINITY, max);
        RefTensor s(m.shape, 0.0);
        for (int64_t i = 0; i < x.size(); ++i) {
          int64_t o = broadcastOffset(coordsOf(i, x.shape), m.shape);
          s.data[o] += std::exp(x.data[i] - m.data[o]);
        }
        for (int64_t o = 0; o < s.size(); ++o)
          s.data[o] = m.data[o] + std::log(s.data[o]);
        return s;
      });
}

/// Splits `shape` around `axis` into (outer, n, inner).
std::tuple<int64_t, int64_t, int64_t> around(const Shape &shape, int64_t axis) {
  int64_t outer = 1, inner = 1;
  for (int64_t d = 0; d < axis; ++d)
    outer *= shape[d];
  for (size_t d = axis + 1; d < shape.size(); ++d)
    inner *= shape[d];
  return {outer, shape[axis], inner};
}

/// `f(row, out)` on every 1-D row along `axis`.
RefTensor alongAxis(const RefTensor &x, int64_t axis,
                    const std::function<void(std::vector<double> &)> &f) {
  auto [outer, n, inner] = around(x.shape, axis);
  RefTensor r = x;
  std::vector<double> row(n);
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t i = 0; i < inner; ++i) {
      for (int64_t k = 0; k < n; ++k)
        row[k] = x.data[(o * n + k) * inner + i];
      f(row);
      for (int64_t k = 0; k < n; ++k)
        r.data[(o * n + k) * inner + i] = row[k];
    }
  return r;
}

void softmaxRow(std::vector<double> &row, bool log) {
  double m = *std::max_element(row.begin(), row.end()), s = 0.0;
  for (double v : row)
    s += std::exp(v - m);
  for (double &v : row)
    v = log ? v - m - std::log(s) : std::exp(v - m) / s;
}

RefTensor matmul(MatmulOp op, const RefTensor &a, const RefTensor &b) {
  bool ta = op.getTransposeLhs(), tb = op.getTransposeRhs();
  size_t ra = a.shape.size(), rb = b.shape.size();
  int64_t m = ta ? a.shape[ra - 1] : a.shape[ra - 2];
  int64_t k = ta ? a.shape[ra - 2] : a.shape[ra - 1];
  int64_t n = tb ? b.shape[rb - 2] : b.shape[rb - 1];
  Shape out = shapeOfType(op.getType());
  Shape batch(out.begin(), out.end() - 2);
  Shape aBatch(a.shape.begin(), a.shape.end() - 2), bBatch(b.shape.begin(), b.shape.end() - 2);
  RefTensor r(out);
  int64_t batches = r.size() / (m * n);
  for (int64_t bi = 0; bi < batches; ++bi) {
    Shape c = coordsOf(bi, batch);
    const double *pa = a.data.data() + broadcastOffset(c, aBatch) * m * k;
    const double *pb = b.data.data() + broadcastOffset(c, bBatch) * k * n;
    double *pr = r.data.data() + bi * m * n;
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j) {
        double s = 0.0;
        for (int64_t l = 0; l < k; ++l)
          s += (ta ? pa[l * m + i] : pa[i * k + l]) * (tb ? pb[j * k + l] : pb[l * n + j]);
        pr[i * n + j] = s;
      }
  }
  return r;
}

/// Every (input element, weight element, result element) that a 2-D
/// convolution multiplies together, by flat index, straight from the
/// definition: the forward and both gradients are sums over these.
template <typename F>
void forEachConvTap(const ConvGeometry &g, F &&f) {
  int64_t cg = g.c / g.groups, og = g.o / g.groups;
  for (int64_t n = 0; n < g.n; ++n)
    for (int64_t o = 0; o < g.o; ++o)
      for (int64_t i = 0; i < g.ho; ++i)
        for (int64_t j = 0; j < g.wo; ++j)
          for (int64_t ci = 0; ci < cg; ++ci)
            for (int64_t a = 0; a < g.kh; ++a)
              for (int64_t e = 0; e < g.kw; ++e) {
                int64_t h = i * g.stride[0] - g.pad[0] + a * g.dilation[0];
                int64_t w = j * g.stride[1] - g.pad[1] + e * g.dilation[1];
                if (h < 0 || h >= g.h || w < 0 || w >= g.w)
                  continue; // zero padding
                int64_t c = o / og * cg + ci;
                f(((n * g.c + c) * g.h + h) * g.w + w, ((o * cg + ci) * g.kh + a) * g.kw + e,
                  ((n * g.o + o) * g.ho + i) * g.wo + j);
              }
}

/// Each output element of a pooling window (flat index into [N, C, Ho,
/// Wo]) with the flat indices of the input elements its window holds
/// (padding left out) and its tap count, from the definition.
template <typename F>
void forEachPoolWindow(const ConvGeometry &g, F &&f) {
  std::vector<int64_t> taps;
  for (int64_t nc = 0; nc < g.n * g.c; ++nc)
    for (int64_t i = 0; i < g.ho; ++i)
      for (int64_t j = 0; j < g.wo; ++j) {
        taps.clear();
        for (int64_t a = 0; a < g.kh; ++a)
          for (int64_t e = 0; e < g.kw; ++e) {
            int64_t h = i * g.stride[0] - g.pad[0] + a * g.dilation[0];
            int64_t w = j * g.stride[1] - g.pad[1] + e * g.dilation[1];
            if (h >= 0 && h < g.h && w >= 0 && w < g.w)
              taps.push_back((nc * g.h + h) * g.w + w);
          }
        f((nc * g.ho + i) * g.wo + j, nc * g.h * g.w, taps);
      }
}

/// What avg_pool2d divides a window's sum by: its taps, or only those
/// inside the input.
double poolDivisor(const ConvGeometry &g, bool countIncludePad, ArrayRef<int64_t> taps) {
  return countIncludePad ? double(g.kh * g.kw) : double(taps.size());
}

/// `op` in exact (double) arithmetic.
LogicalResult evaluateExactly(Operation *op, ArrayRef<const RefTensor *> in,
                              std::vector<RefTensor> &results);

/// `x` rounded to the nearest value of float type `t`, ties to even (what
/// storing a bf16 or f16 result does).
double roundTo(FloatType t, double x) {
  llvm::APFloat v(x);
  bool lost = false;
  v.convert(t.getFloatSemantics(), llvm::APFloat::rmNearestTiesToEven, &lost);
  v.convert(llvm::APFloat::IEEEdouble(), llvm::APFloat::rmNearestTiesToEven, &lost);
  return v.convertToDouble();
}

} // namespace

LogicalResult evaluateOp(Operation *op, ArrayRef<const RefTensor *> in,
                         std::vector<RefTensor> &results) {
  if (failed(evaluateExactly(op, in, results)))
    return failure();
  // A low-precision result holds what the op computed, rounded once.
  for (auto [v, r] : llvm::zip(op->getResults(), results)) {
    auto t = dyn_cast<FloatType>(getElementTypeOrSelf(v.getType()));
    if (t && !t.isF32())
      for (double &x : r.data)
        x = roundTo(t, x);
  }
  return success();
}

namespace {

LogicalResult evaluateExactly(Operation *op, ArrayRef<const RefTensor *> in,
                              std::vector<RefTensor> &results) {
  Shape out = op->getNumResults() ? shapeOfType(op->getResult(0).getType()) : Shape{};
  auto result = [&](RefTensor r) {
    results.push_back(std::move(r));
    return success();
  };
  if (in.size() == 1 && op->getNumResults() == 1 && !isa<CastOp>(op))
    if (auto probe = unary(op, 0.0)) {
      (void)probe;
      return result(elementwise(out, in, [&](ArrayRef<double> a) { return *unary(op, a[0]); }));
    }
  if (in.size() == 2 && binary(op, 0.0, 1.0))
    return result(elementwise(out, in, [&](ArrayRef<double> a) {
      return *binary(op, a[0], a[1]);
    }));

  return llvm::TypeSwitch<Operation *, LogicalResult>(op)
      .Case([&](ConstantOp c) {
        auto attr = cast<DenseElementsAttr>(c.getValue());
        RefTensor r(out);
        Type e = attr.getElementType();
        int64_t i = 0;
        if (e.isF32())
          for (float v : attr.getValues<float>())
            r.data[i++] = v;
        else if (e.isInteger(1))
          for (bool v : attr.getValues<bool>())
            r.data[i++] = v;
        else
          for (int32_t v : attr.getValues<int32_t>())
            r.data[i++] = v;
        return result(r);
      })
      .Case([&](SelectOp) {
        return result(elementwise(out, in, [](ArrayRef<double> a) {
          return a[0] != 0.0 ? a[1] : a[2];
        }));
      })
      .Case([&](CastOp c) {
        bool toInt = cast<RankedTensorType>(c.getType()).getElementType().isInteger();
        return result(elementwise(out, in, [&](ArrayRef<double> a) {
          return toInt ? std::trunc(a[0]) : a[0];
        }));
      })
      .Case([&](ReductionOpInterface r) {
        RefTensor t = reduceOp(r, *in[0], r.getReducedAxes());
        t.shape = out;
        return result(t);
      })
      .Case([&](ArgmaxOp a) {
        RefTensor x = alongAxis(*in[0], a.getAxis(), [](std::vector<double> &row) {
          size_t best = std::max_element(row.begin(), row.end()) - row.begin();
          std::fill(row.begin(), row.end(), static_cast<double>(best));
        });
        auto [outer, n, inner] = around(in[0]->shape, a.getAxis());
        RefTensor r(out);
        for (int64_t o = 0; o < outer; ++o)
          for (int64_t i = 0; i < inner; ++i)
            r.data[o * inner + i] = x.data[o * n * inner + i];
        return result(r);
      })
      .Case([&](ReshapeOp) { return result(RefTensor(out, in[0]->data)); })
      .Case([&](TransposeOp t) {
        ArrayRef<int64_t> perm = t.getPerm();
        Shape inStrides = stridesOf(in[0]->shape);
        RefTensor r(out);
        for (int64_t i = 0; i < r.size(); ++i) {
          Shape c = coordsOf(i, out);
          int64_t src = 0;
          for (size_t d = 0; d < c.size(); ++d)
            src += c[d] * inStrides[perm[d]];
          r.data[i] = in[0]->data[src];
        }
        return result(r);
      })
      .Case([&](BroadcastOp) {
        return result(elementwise(out, in, [](ArrayRef<double> a) { return a[0]; }));
      })
      .Case([&](SliceOp s) {
        Shape inStrides = stridesOf(in[0]->shape);
        RefTensor r(out);
        for (int64_t i = 0; i < r.size(); ++i) {
          Shape c = coordsOf(i, out);
          int64_t src = 0;
          for (size_t d = 0; d < c.size(); ++d)
            src += (s.getStarts()[d] + c[d] * s.getStrides()[d]) * inStrides[d];
          r.data[i] = in[0]->data[src];
        }
        return result(r);
      })
      .Case([&](PadOp p) {
        Shape outStrides = stridesOf(out);
        RefTensor r(out, 0.0);
        for (int64_t i = 0; i < in[0]->size(); ++i) {
          Shape c = coordsOf(i, in[0]->shape);
          int64_t dst = 0;
          for (size_t d = 0; d < c.size(); ++d)
            dst += (p.getLow()[d] + c[d] * (p.getInterior()[d] + 1)) * outStrides[d];
          r.data[dst] = in[0]->data[i];
        }
        return result(r);
      })
      .Case([&](ConcatOp c) {
        int64_t axis = c.getAxis();
        RefTensor r(out);
        int64_t offset = 0;
        for (const RefTensor *x : in) {
          for (int64_t i = 0; i < x->size(); ++i) {
            Shape co = coordsOf(i, x->shape);
            co[axis] += offset;
            int64_t dst = 0;
            for (size_t d = 0; d < co.size(); ++d)
              dst = dst * out[d] + co[d];
            r.data[dst] = x->data[i];
          }
          offset += x->shape[axis];
        }
        return result(r);
      })
      .Case([&](SplitOp s) {
        int64_t axis = s.getAxis(), offset = 0;
        for (Value v : s.getResults()) {
          Shape piece = shapeOfType(v.getType());
          RefTensor r(piece);
          Shape inStrides = stridesOf(in[0]->shape);
          for (int64_t i = 0; i < r.size(); ++i) {
            Shape co = coordsOf(i, piece);
            co[axis] += offset;
            int64_t src = 0;
            for (size_t d = 0; d < co.size(); ++d)
              src += co[d] * inStrides[d];
            r.data[i] = in[0]->data[src];
          }
          offset += piece[axis];
          results.push_back(std::move(r));
        }
        return success();
      })
      .Case([&](MatmulOp m) { return result(matmul(m, *in[0], *in[1])); })
      .Case([&](Conv2dOp c) {
        RefTensor r(out);
        forEachConvTap(c.getGeometry(), [&](int64_t x, int64_t w, int64_t y) {
          r.data[y] += in[0]->data[x] * in[1]->data[w];
        });
        return result(std::move(r));
      })
      .Case([&](Conv2dInputGradOp c) {
        RefTensor r(out);
        forEachConvTap(c.getGeometry(), [&](int64_t x, int64_t w, int64_t y) {
          r.data[x] += in[0]->data[y] * in[1]->data[w];
        });
        return result(std::move(r));
      })
      .Case([&](Conv2dWeightGradOp c) {
        RefTensor r(out);
        forEachConvTap(c.getGeometry(), [&](int64_t x, int64_t w, int64_t y) {
          r.data[w] += in[0]->data[x] * in[1]->data[y];
        });
        return result(std::move(r));
      })
      .Case([&](MaxPool2dOp m) {
        // The first strictly larger value wins, as PyTorch's.
        RefTensor r(out), idx(out);
        forEachPoolWindow(m.getGeometry(), [&](int64_t y, int64_t plane, ArrayRef<int64_t> taps) {
          int64_t best = taps.front();
          for (int64_t x : taps)
            if (in[0]->data[x] > in[0]->data[best])
              best = x;
          r.data[y] = in[0]->data[best];
          idx.data[y] = double(best - plane);
        });
        results.push_back(std::move(r));
        return result(std::move(idx));
      })
      .Case([&](MaxPool2dGradOp m) {
        RefTensor r(out);
        forEachPoolWindow(m.getGeometry(), [&](int64_t y, int64_t plane, ArrayRef<int64_t>) {
          r.data[plane + int64_t(in[1]->data[y])] += in[0]->data[y];
        });
        return result(std::move(r));
      })
      .Case([&](AvgPool2dOp a) {
        RefTensor r(out);
        ConvGeometry g = a.getGeometry();
        forEachPoolWindow(g, [&](int64_t y, int64_t, ArrayRef<int64_t> taps) {
          for (int64_t x : taps)
            r.data[y] += in[0]->data[x];
          r.data[y] /= poolDivisor(g, a.getCountIncludePad(), taps);
        });
        return result(std::move(r));
      })
      .Case([&](AvgPool2dGradOp a) {
        RefTensor r(out);
        ConvGeometry g = a.getGeometry();
        forEachPoolWindow(g, [&](int64_t y, int64_t, ArrayRef<int64_t> taps) {
          double d = poolDivisor(g, a.getCountIncludePad(), taps);
          for (int64_t x : taps)
            r.data[x] += in[0]->data[y] / d;
        });
        return result(std::move(r));
      })
      .Case([&](BatchNormOp bn) {
        // Per channel: batch statistics in training (the variance biased
        // to normalise, unbiased in the running one), else the running
        // ones. One rank: `sync` changes nothing.
        const RefTensor &x = *in[0];
        int64_t c = x.shape[1], inner = x.size() / (x.shape[0] * c), count = x.size() / c;
        double eps = bn.getEps().convertToDouble(), m = bn.getMomentum().convertToDouble();
        RefTensor y(out), mean(*in[3]), var(*in[4]);
        for (int64_t ch = 0; ch < c; ++ch) {
          auto each = [&](auto &&f) {
            for (int64_t n = 0; n < x.shape[0]; ++n)
              for (int64_t k = 0; k < inner; ++k)
                f((n * c + ch) * inner + k);
          };
          double mu = in[3]->data[ch], v = in[4]->data[ch];
          if (bn.getTraining()) {
            mu = 0.0, v = 0.0;
            each([&](int64_t i) { mu += x.data[i] / count; });
            each([&](int64_t i) { v += (x.data[i] - mu) * (x.data[i] - mu) / count; });
            mean.data[ch] = (1 - m) * in[3]->data[ch] + m * mu;
            var.data[ch] = (1 - m) * in[4]->data[ch] + m * v * count / (count - 1);
          }
          double scale = in[1]->data[ch] / std::sqrt(v + eps);
          each([&](int64_t i) { y.data[i] = (x.data[i] - mu) * scale + in[2]->data[ch]; });
        }
        results.push_back(std::move(y));
        results.push_back(std::move(mean));
        return result(std::move(var));
      })
      .Case([&](SoftmaxOp s) {
        return result(alongAxis(*in[0], s.getAxis(),
                                [](std::vector<double> &row) { softmaxRow(row, false); }));
      })
      .Case([&](LogSoftmaxOp s) {
        return result(alongAxis(*in[0], s.getAxis(),
                                [](std::vector<double> &row) { softmaxRow(row, true); }));
      })
      .Case([&](L2NormalizeOp l) {
        double eps = l.getEps().convertToDouble();
        return result(alongAxis(*in[0], l.getAxis(), [&](std::vector<double> &row) {
          double s = 0.0;
          for (double v : row)
            s += v * v;
          double d = std::max(std::sqrt(s), eps);
          for (double &v : row)
            v /= d;
        }));
      })
      .Case([&](LayerNormOp l) {
        double eps = l.getEps().convertToDouble();
        int64_t n = in[0]->shape.back();
        RefTensor r(out);
        for (int64_t row = 0; row < r.size() / n; ++row) {
          const double *x = in[0]->data.data() + row * n;
          double mean = 0.0, var = 0.0;
          for (int64_t i = 0; i < n; ++i)
            mean += x[i] / n;
          for (int64_t i = 0; i < n; ++i)
            var += (x[i] - mean) * (x[i] - mean) / n;
          double rstd = 1.0 / std::sqrt(var + eps);
          for (int64_t i = 0; i < n; ++i)
            r.data[row * n + i] = (x[i] - mean) * rstd * in[1]->data[i] + in[2]->data[i];
        }
        return result(r);
      })
      .Case([&](OneHotOp o) {
        int64_t c = o.getNumClasses();
        RefTensor r(out, 0.0);
        for (int64_t i = 0; i < in[0]->size(); ++i) {
          double label = in[0]->data[i];
          if (label >= 0 && label < c)
            r.data[i * c + static_cast<int64_t>(label)] = 1.0;
        }
        return result(r);
      })
      .Case([&](ResizeBilinearOp) {
        const Shape &s = in[0]->shape;
        int64_t h = s[s.size() - 2], w = s.back();
        int64_t oh = out[out.size() - 2], ow = out.back();
        std::vector<double> rh = bilinearResizeMatrix(h, oh), rw = bilinearResizeMatrix(w, ow);
        RefTensor r(out, 0.0);
        for (int64_t img = 0; img < r.size() / (oh * ow); ++img)
          for (int64_t i = 0; i < oh; ++i)
            for (int64_t j = 0; j < ow; ++j)
              for (int64_t y = 0; y < h; ++y)
                for (int64_t x = 0; x < w; ++x)
                  r.data[(img * oh + i) * ow + j] +=
                      rh[i * h + y] * rw[j * w + x] * in[0]->data[(img * h + y) * w + x];
        return result(r);
      })
      .Case([&](FusionOp f) -> LogicalResult {
        // The region's ops in order, on the region's own values.
        llvm::DenseMap<Value, RefTensor> local;
        for (auto [arg, t] : llvm::zip(f.getBody().getArguments(), in))
          local[arg] = *t;
        for (Operation &inner : f.getBody().front()) {
          std::vector<const RefTensor *> operands;
          for (Value v : inner.getOperands())
            operands.push_back(&local.find(v)->second);
          if (auto y = dyn_cast<YieldOp>(inner)) {
            for (const RefTensor *t : operands)
              results.push_back(*t);
            return success();
          }
          std::vector<RefTensor> rs;
          if (failed(evaluateOp(&inner, operands, rs)))
            return failure();
          for (auto [v, r] : llvm::zip(inner.getResults(), rs))
            local[v] = std::move(r);
        }
        return success();
      })
      .Default([&](Operation *o) {
        return o->emitError("the reference evaluator does not know this op");
      });
}

} // namespace

FailureOr<StepResults> evaluateStep(func::FuncOp step, const StepBindings &bindings) {
  StepResults out;
  llvm::DenseMap<Value, RefTensor> values;
  auto bound = [&](Operation *op, const auto &table, StringRef name,
                   StringRef kind) -> FailureOr<RefTensor> {
    auto it = table.find(name.str());
    if (it == table.end())
      return op->emitError() << "no value bound for " << kind << " \"" << name << "\"";
    // A state sharded over one rank is the whole state, flattened.
    std::vector<int64_t> shape = shapeOfType(op->getResult(0).getType());
    if (auto s = dyn_cast<StateOp>(op); s && s.getShards() == 1) {
      SmallVector<int64_t> whole = s.wholeShape();
      if (it->second.shape != std::vector<int64_t>(whole.begin(), whole.end()))
        return op->emitError() << kind << " \"" << name << "\" is bound to a tensor of another shape";
      return RefTensor(shape, it->second.data);
    }
    if (it->second.shape != shape)
      return op->emitError() << kind << " \"" << name << "\" is bound to a tensor of another shape";
    return it->second;
  };
  for (Operation &op : step.getBody().front()) {
    FailureOr<RefTensor> source = failure();
    bool isSource = true;
    if (auto p = dyn_cast<ParamOp>(op))
      source = bound(&op, bindings.params, p.getName(), "parameter");
    else if (auto s = dyn_cast<StateOp>(op))
      source = bound(&op, bindings.state, s.getName(), "state");
    else if (auto i = dyn_cast<InputOp>(op))
      source = bound(&op, bindings.inputs, i.getName(), "input");
    else if (auto s = dyn_cast<ScheduleOp>(op)) {
      auto it = bindings.schedules.find(s.getName().str());
      if (it == bindings.schedules.end())
        return op.emitError() << "no value bound for schedule \"" << s.getName() << "\"";
      source = RefTensor({}, it->second);
    } else if (auto r = dyn_cast<RandomUniformOp>(op)) {
      if (!bindings.random)
        return op.emitError("no random source bound");
      source = bindings.random(r.getStream(), shapeOfType(r.getType()));
    } else
      isSource = false;
    if (isSource) {
      if (failed(source))
        return failure();
      values[op.getResult(0)] = *source;
      continue;
    }
    auto value = [&](Value v) { return values.find(v)->second; };
    if (auto l = dyn_cast<LossOp>(op)) {
      out.loss = value(l.getValue()).scalar();
    } else if (auto m = dyn_cast<MetricOp>(op)) {
      out.metrics[m.getName().str()] = value(m.getValue()).scalar();
    } else if (auto g = dyn_cast<GradientOp>(op)) {
      out.gradients[g.getName().str()] = value(g.getValue());
    } else if (auto u = dyn_cast<UpdateParamOp>(op)) {
      out.params[u.getName().str()] = value(u.getValue());
    } else if (auto u = dyn_cast<UpdateStateOp>(op)) {
      out.state[u.getName().str()] = value(u.getValue());
    } else if (auto o = dyn_cast<OutputOp>(op)) {
      out.outputs[o.getName().str()] = value(o.getValue());
    } else if (auto r = dyn_cast<AllReduceOp>(op)) {
      for (auto [v, result] : llvm::zip(r.getValues(), r.getResults()))
        values[result] = value(v); // one rank: the mean is the value
    } else if (isa<ReduceScatterOp, ShardOp, AllGatherOp>(op)) {
      // One rank: its chunk is the whole tensor, flattened (and back).
      if (op.getAttrOfType<IntegerAttr>("ranks").getInt() != 1)
        return op.emitError("the reference evaluator runs one rank: 'ranks' must be 1");
      for (auto [v, result] : llvm::zip(op.getOperands(), op.getResults()))
        values[result] = RefTensor(shapeOfType(result.getType()), value(v).data);
    } else if (!isa<func::ReturnOp>(op)) {
      std::vector<const RefTensor *> operands;
      for (Value v : op.getOperands())
        operands.push_back(&values.find(v)->second);
      std::vector<RefTensor> results;
      if (failed(evaluateOp(&op, operands, results)))
        return failure();
      for (auto [v, r] : llvm::zip(op.getResults(), results))
        values[v] = std::move(r);
    }
  }
  return out;
}

} // namespace kiln
