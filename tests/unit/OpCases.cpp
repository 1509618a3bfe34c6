//===- OpCases.cpp - one small computation per kiln op, for tests ---------===//
#include "OpCases.h"

using namespace mlir;

namespace kiln::test {
namespace {

int64_t dim(std::mt19937 &rng) { return 2 + rng() % 4; }

std::vector<Shape> same(std::mt19937 &rng, int n) {
  Shape s{dim(rng), dim(rng), dim(rng)};
  return std::vector<Shape>(n, s);
}

/// [a, b, c] with [b, 1] or [c]: numpy broadcasting both ways.
std::vector<Shape> broadcasting(std::mt19937 &rng) {
  int64_t a = dim(rng), b = dim(rng), c = dim(rng);
  return rng() % 2 ? std::vector<Shape>{{a, b, c}, {b, 1}}
                   : std::vector<Shape>{{c}, {a, b, c}};
}

OpCase unaryCase(const char *name, Body body, double low = -1.0, double high = 1.0) {
  return {"elementwise", name, [](std::mt19937 &r) { return same(r, 1); }, body, low, high};
}

OpCase binaryCase(const char *name, Body body, double low = -1.0, double high = 1.0) {
  return {"elementwise", name, broadcasting, body, low, high};
}

template <typename OpTy>
Body reduceBody(Shape axes, bool keepdim) {
  return [=](KilnBuilder &k, ArrayRef<Value> p) -> Value {
    OpBuilder &b = k.builder();
    return b.create<OpTy>(k.location(), ValueRange{p[0]},
                          ArrayRef<NamedAttribute>{
                              b.getNamedAttr("axes", b.getDenseI64ArrayAttr(axes)),
                              b.getNamedAttr("keepdim", b.getBoolAttr(keepdim))});
  };
}

template <typename OpTy>
Body axisBody(int64_t axis) {
  return [=](KilnBuilder &k, ArrayRef<Value> p) -> Value {
    OpBuilder &b = k.builder();
    return b.create<OpTy>(k.location(), ValueRange{p[0]},
                          ArrayRef<NamedAttribute>{
                              b.getNamedAttr("axis", b.getI64IntegerAttr(axis))});
  };
}

Body matmulBody(bool ta, bool tb) {
  return [=](KilnBuilder &k, ArrayRef<Value> p) { return k.matmul(p[0], p[1], ta, tb); };
}

/// lhs/rhs shapes for C = op(A)·op(B) with batch broadcasting (rank-2
/// weight against rank-3 activations half the time).
std::function<std::vector<Shape>(std::mt19937 &)> matmulShapes(bool ta, bool tb) {
  return [=](std::mt19937 &r) {
    int64_t bt = dim(r), m = dim(r), kk = dim(r), n = dim(r);
    Shape a = ta ? Shape{bt, kk, m} : Shape{bt, m, kk};
    Shape w = tb ? Shape{n, kk} : Shape{kk, n};
    if (r() % 2)
      w.insert(w.begin(), r() % 2 ? bt : 1);
    return std::vector<Shape>{a, w};
  };
}

/// A convolution case: input [n, c, h, w], weight [o, c / groups, kh, kw]
/// with the spatial sizes drawn so that the strided, dilated kernel fits.
OpCase convCase(const char *name, int64_t c, int64_t o, int64_t groups, int64_t kernel,
                Shape strides, Shape padding, Shape dilation) {
  auto shapes = [=](std::mt19937 &r) {
    int64_t h = 2 + kernel * dilation[0] + r() % 3, w = 2 + kernel * dilation[1] + r() % 4;
    return std::vector<Shape>{{2, c, h, w}, {o, c / groups, kernel, kernel}};
  };
  auto body = [=](KilnBuilder &k, ArrayRef<Value> p) -> Value {
    OpBuilder &b = k.builder();
    return b.create<Conv2dOp>(
        k.location(), ValueRange{p[0], p[1]},
        ArrayRef<NamedAttribute>{b.getNamedAttr("strides", b.getDenseI64ArrayAttr(strides)),
                                 b.getNamedAttr("padding", b.getDenseI64ArrayAttr(padding)),
                                 b.getNamedAttr("dilation", b.getDenseI64ArrayAttr(dilation)),
                                 b.getNamedAttr("groups", b.getI64IntegerAttr(groups))});
  };
  return {"convolution", name, shapes, body};
}

/// A pool over [2, 3, h, w] with the window attributes given.
OpCase poolCase(const char *name, bool max, Shape kernel, Shape strides, Shape padding,
                Shape dilation, bool countPad = true) {
  auto shapes = [=](std::mt19937 &r) {
    int64_t h = kernel[0] * dilation[0] + 1 + r() % 3, w = kernel[1] * dilation[1] + 2 + r() % 3;
    return std::vector<Shape>{{2, 3, h, w}};
  };
  auto body = [=](KilnBuilder &k, ArrayRef<Value> p) -> Value {
    OpBuilder &b = k.builder();
    SmallVector<NamedAttribute> attrs{
        b.getNamedAttr("kernel_size", b.getDenseI64ArrayAttr(kernel)),
        b.getNamedAttr("strides", b.getDenseI64ArrayAttr(strides)),
        b.getNamedAttr("padding", b.getDenseI64ArrayAttr(padding)),
        b.getNamedAttr("dilation", b.getDenseI64ArrayAttr(dilation))};
    if (max)
      return b.create<MaxPool2dOp>(k.location(), ValueRange{p[0]}, attrs).getResult();
    attrs.push_back(b.getNamedAttr("count_include_pad", b.getBoolAttr(countPad)));
    return b.create<AvgPool2dOp>(k.location(), ValueRange{p[0]}, attrs);
  };
  return {"pooling", name, shapes, body};
}

/// batch_norm of a [3, c, 2, 3] input: its result (training or evaluation)
/// or, with `updated`, its new running variance. The operands it reads are
/// the parameters (the running statistics in evaluation; the running
/// variance for the update), the others per-channel constants.
OpCase batchNormCase(const char *name, bool training, bool sync, bool updated = false) {
  auto shapes = [=](std::mt19937 &r) {
    int64_t c = dim(r);
    std::vector<Shape> s{{3, c, 2, 3}};
    int64_t perChannel = updated ? 1 : training ? 2 : 4;
    for (int64_t i = 0; i < perChannel; ++i)
      s.push_back({c});
    return s;
  };
  auto body = [=](KilnBuilder &k, ArrayRef<Value> p) -> Value {
    OpBuilder &b = k.builder();
    int64_t c = cast<RankedTensorType>(p[0].getType()).getShape()[1];
    auto channel = [&](double base) {
      std::vector<double> v;
      for (int64_t i = 0; i < c; ++i)
        v.push_back(base + 0.1 * i);
      return k.constant({c}, v);
    };
    // scale, bias, running mean, running variance (positive)
    Value operands[4] = {channel(0.8), channel(-0.2), channel(0.1), channel(0.6)};
    if (updated)
      operands[3] = k.add(k.mul(p[1], p[1]), k.scalar(0.5));
    else
      for (size_t i = 1; i < p.size(); ++i)
        operands[i - 1] = i == 4 ? k.add(k.mul(p[i], p[i]), k.scalar(0.5)) : p[i];
    auto bn = b.create<BatchNormOp>(
        k.location(), ValueRange{p[0], operands[0], operands[1], operands[2], operands[3]},
        ArrayRef<NamedAttribute>{b.getNamedAttr("momentum", b.getF64FloatAttr(0.3)),
                                 b.getNamedAttr("training", b.getBoolAttr(training)),
                                 b.getNamedAttr("sync", b.getBoolAttr(sync))});
    return updated ? bn.getUpdatedVar() : bn.getResult();
  };
  return {"composite", name, shapes, body};
}

} // namespace

const std::vector<OpCase> &differentiableOpCases() {
  static const std::vector<OpCase> all = {
      unaryCase("neg", [](KilnBuilder &k, ArrayRef<Value> p) { return k.neg(p[0]); }),
      unaryCase("exp", [](KilnBuilder &k, ArrayRef<Value> p) { return k.exp(p[0]); }),
      unaryCase("expm1", [](KilnBuilder &k, ArrayRef<Value> p) { return k.expm1(p[0]); }),
      unaryCase("log", [](KilnBuilder &k, ArrayRef<Value> p) { return k.log(p[0]); }, 0.5, 2.0),
      unaryCase("sqrt", [](KilnBuilder &k, ArrayRef<Value> p) { return k.sqrt(p[0]); }, 0.5, 2.0),
      unaryCase("rsqrt", [](KilnBuilder &k, ArrayRef<Value> p) { return k.rsqrt(p[0]); }, 0.5, 2.0),
      unaryCase("tanh", [](KilnBuilder &k, ArrayRef<Value> p) { return k.tanh(p[0]); }),
      unaryCase("sigmoid", [](KilnBuilder &k, ArrayRef<Value> p) -> Value {
        return k.builder().create<SigmoidOp>(k.location(), p[0]);
      }),
      unaryCase("relu", [](KilnBuilder &k, ArrayRef<Value> p) -> Value {
        return k.builder().create<ReluOp>(k.location(), p[0]);
      }),
      unaryCase("abs", [](KilnBuilder &k, ArrayRef<Value> p) -> Value {
        return k.builder().create<AbsOp>(k.location(), p[0]);
      }),
      unaryCase("erf", [](KilnBuilder &k, ArrayRef<Value> p) { return k.erf(p[0]); }),
      unaryCase("gelu", [](KilnBuilder &k, ArrayRef<Value> p) -> Value {
        return k.builder().create<GeluOp>(k.location(), p[0], "none");
      }, -3.0, 3.0),
      unaryCase("gelu_tanh", [](KilnBuilder &k, ArrayRef<Value> p) -> Value {
        return k.builder().create<GeluOp>(k.location(), p[0], "tanh");
      }, -3.0, 3.0),
      binaryCase("add", [](KilnBuilder &k, ArrayRef<Value> p) { return k.add(p[0], p[1]); }),
      binaryCase("sub", [](KilnBuilder &k, ArrayRef<Value> p) { return k.sub(p[0], p[1]); }),
      binaryCase("mul", [](KilnBuilder &k, ArrayRef<Value> p) { return k.mul(p[0], p[1]); }),
      binaryCase("div", [](KilnBuilder &k, ArrayRef<Value> p) { return k.div(p[0], p[1]); }, 0.5, 2.0),
      binaryCase("pow", [](KilnBuilder &k, ArrayRef<Value> p) { return k.pow(p[0], p[1]); }, 0.5, 2.0),
      binaryCase("max", [](KilnBuilder &k, ArrayRef<Value> p) { return k.max(p[0], p[1]); }),
      binaryCase("min", [](KilnBuilder &k, ArrayRef<Value> p) { return k.min(p[0], p[1]); }),
      {"elementwise", "select", broadcasting, [](KilnBuilder &k, ArrayRef<Value> p) {
         // The condition depends on the parameters but carries no gradient.
         return k.select(k.compare("gt", p[0], p[1]), p[0], k.mul(p[1], p[1]));
       }},
      {"reduction", "sum", [](std::mt19937 &r) { return same(r, 1); },
       reduceBody<SumOp>({0, 2}, false)},
      {"reduction", "mean", [](std::mt19937 &r) { return same(r, 1); },
       reduceBody<MeanOp>({1}, true)},
      {"reduction", "reduce_max", [](std::mt19937 &r) { return same(r, 1); },
       reduceBody<ReduceMaxOp>({2}, false)},
      {"reduction", "logsumexp", [](std::mt19937 &r) { return same(r, 1); },
       reduceBody<LogSumExpOp>({0, 1}, true)},
      {"shape", "reshape", [](std::mt19937 &r) { return same(r, 1); },
       [](KilnBuilder &k, ArrayRef<Value> p) {
         Shape s(shapeOf(p[0]));
         return k.reshape(p[0], {s[0] * s[1], s[2]});
       }},
      {"shape", "transpose", [](std::mt19937 &r) { return same(r, 1); },
       [](KilnBuilder &k, ArrayRef<Value> p) { return k.transpose(p[0], {2, 0, 1}); }},
      {"shape", "broadcast", [](std::mt19937 &r) { return std::vector<Shape>{{dim(r), 1}}; },
       [](KilnBuilder &k, ArrayRef<Value> p) {
         return k.broadcast(p[0], {3, shapeOf(p[0])[0], 4});
       }},
      {"shape", "slice", [](std::mt19937 &r) {
         return std::vector<Shape>{{dim(r) + 3, dim(r) + 3}};
       },
       [](KilnBuilder &k, ArrayRef<Value> p) {
         Shape s(shapeOf(p[0]));
         return k.slice(p[0], {1, 0}, {s[0] - 1, s[1]}, {2, 3});
       }},
      {"shape", "pad", [](std::mt19937 &r) { return same(r, 1); },
       [](KilnBuilder &k, ArrayRef<Value> p) {
         return k.pad(p[0], {1, 0, 2}, {0, 2, 1}, {0, 1, 2});
       }},
      {"shape", "concat", [](std::mt19937 &r) {
         int64_t a = dim(r), c = dim(r);
         return std::vector<Shape>{{a, dim(r), c}, {a, dim(r), c}};
       },
       [](KilnBuilder &k, ArrayRef<Value> p) { return k.concat(p, 1); }},
      {"shape", "split", [](std::mt19937 &r) { return std::vector<Shape>{{dim(r), 7}}; },
       [](KilnBuilder &k, ArrayRef<Value> p) -> Value {
         OpBuilder &b = k.builder();
         auto split = b.create<SplitOp>(
             k.location(), ValueRange{p[0]},
             ArrayRef<NamedAttribute>{b.getNamedAttr("axis", b.getI64IntegerAttr(1)),
                                      b.getNamedAttr("sizes", b.getDenseI64ArrayAttr({3, 4}))});
         // Only the second piece is used: the first gets zeros.
         return split.getResult(1);
       }},
      {"contraction", "matmul", matmulShapes(false, false), matmulBody(false, false)},
      {"contraction", "matmul_tb", matmulShapes(false, true), matmulBody(false, true)},
      {"contraction", "matmul_ta", matmulShapes(true, false), matmulBody(true, false)},
      {"contraction", "matmul_ta_tb", matmulShapes(true, true), matmulBody(true, true)},
      convCase("conv2d", 3, 4, 1, 3, {1, 1}, {1}, {1, 1}),
      convCase("conv2d_strided_dilated_uneven_padding", 2, 3, 1, 3, {2, 3}, {1, 0, 2, 1},
               {2, 1}),
      convCase("conv2d_grouped", 4, 6, 2, 2, {1, 2}, {0, 1}, {1, 1}),
      convCase("conv2d_depthwise", 3, 3, 3, 3, {2, 2}, {1}, {1, 1}),
      poolCase("max_pool2d", true, {3, 3}, {2, 2}, {1}, {1, 1}),
      poolCase("max_pool2d_dilated_uneven_padding", true, {2, 3}, {1, 2}, {1, 0, 0, 1}, {2, 1}),
      poolCase("avg_pool2d", false, {3, 3}, {2, 2}, {1}, {1, 1}),
      poolCase("avg_pool2d_exclude_padding", false, {2, 3}, {2, 1}, {1, 1, 0, 1}, {1, 1}, false),
      batchNormCase("batch_norm", true, false),
      batchNormCase("batch_norm_sync", true, true),
      batchNormCase("batch_norm_eval", false, false),
      batchNormCase("batch_norm_running_var", true, false, true),
      {"communication", "all_reduce", [](std::mt19937 &r) { return same(r, 2); },
       [](KilnBuilder &k, ArrayRef<Value> p) -> Value {
         AllReduceOp reduce = k.allReduce({p[0], p[1]});
         return k.mul(reduce.getResult(0), reduce.getResult(1));
       }},
      {"composite", "softmax", [](std::mt19937 &r) { return same(r, 1); },
       axisBody<SoftmaxOp>(2), -3.0, 3.0},
      {"composite", "log_softmax", [](std::mt19937 &r) { return same(r, 1); },
       axisBody<LogSoftmaxOp>(1), -3.0, 3.0},
      {"composite", "l2_normalize", [](std::mt19937 &r) { return same(r, 1); },
       axisBody<L2NormalizeOp>(2)},
      {"composite", "layer_norm", [](std::mt19937 &r) {
         int64_t c = dim(r);
         return std::vector<Shape>{{dim(r), dim(r), c}, {c}, {c}};
       },
       [](KilnBuilder &k, ArrayRef<Value> p) -> Value {
         return k.builder().create<LayerNormOp>(k.location(), p[0], p[1], p[2],
                                                llvm::APFloat(1e-5));
       }},
      {"composite", "resize_bilinear", [](std::mt19937 &r) {
         return std::vector<Shape>{{2, dim(r) + 3, dim(r) + 3}};
       },
       [](KilnBuilder &k, ArrayRef<Value> p) -> Value {
         OpBuilder &b = k.builder();
         return b.create<ResizeBilinearOp>(
             k.location(), ValueRange{p[0]},
             ArrayRef<NamedAttribute>{b.getNamedAttr("size", b.getDenseI64ArrayAttr({3, 4}))});
       }},
  };
  return all;
}


} // namespace kiln::test
