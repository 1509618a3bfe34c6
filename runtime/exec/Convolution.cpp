//===- Convolution.cpp - conv thunks as im2col and GEMMs ------------------===//
//
// Per image and group, with K = C/groups·KH·KW and P = Ho·Wo:
//   forward      Y[Og×P]  = W[Og×K] · col(X)[K×P]          2·Og·K·P flops
//   input grad   dX       = col2im(Wᵀ[K×Og] · dY[Og×P])     2·Og·K·P
//   weight grad  dW[Og×K] += dY[Og×P] · col(X)ᵀ[P×K]        2·Og·K·P
// col(X) row (c, a, e) holds X[c][i·s - pad + a·d][j·s - pad + e·d], zero
// outside, so a row-major [O][C/g][KH][KW] weight is the GEMM's matrix as
// it lies. A 1×1, stride-1, unpadded convolution reads X as its col.
// bf16 convolutions run on oneDNN's bf16 kernels where they suit and the
// CPU has them; otherwise bf16 and f16 widen to f32 around the same passes.
//
//===----------------------------------------------------------------------===//
#include "runtime/exec/Convolution.h"

#include "runtime/artifact/LowFloat.h"

#include <algorithm>
#include <cstring>

namespace kiln {
namespace {

struct Layout {
  int64_t cg, og, k, p; // channels and filters per group, GEMM sizes
  bool direct;          // col(X) is X itself
};

Layout layoutOf(const ConvGeometry &g) {
  Layout l;
  l.cg = g.c / g.groups, l.og = g.o / g.groups;
  l.k = l.cg * g.kh * g.kw, l.p = g.ho * g.wo;
  l.direct = g.kh == 1 && g.kw == 1 && g.stride == std::array<int64_t, 2>{1, 1} &&
             g.pad == std::array<int64_t, 4>{0, 0, 0, 0};
  return l;
}

/// Calls f(col row, col column, input offset) for every in-bounds tap of
/// group channels [0, cg) of one image (offsets relative to its group).
template <typename F> void forEachTap(const ConvGeometry &g, int64_t cg, F &&f) {
  for (int64_t c = 0; c < cg; ++c)
    for (int64_t a = 0; a < g.kh; ++a)
      for (int64_t e = 0; e < g.kw; ++e) {
        int64_t row = (c * g.kh + a) * g.kw + e;
        for (int64_t i = 0; i < g.ho; ++i) {
          int64_t h = i * g.stride[0] - g.pad[0] + a * g.dilation[0];
          if (h < 0 || h >= g.h)
            continue;
          for (int64_t j = 0; j < g.wo; ++j) {
            int64_t w = j * g.stride[1] - g.pad[1] + e * g.dilation[1];
            if (w >= 0 && w < g.w)
              f(row, i * g.wo + j, (c * g.h + h) * g.w + w);
          }
        }
      }
}

void im2col(const ConvGeometry &g, const Layout &l, const float *x, float *col) {
  std::fill(col, col + l.k * l.p, 0.0f);
  forEachTap(g, l.cg, [&](int64_t row, int64_t at, int64_t from) { col[row * l.p + at] = x[from]; });
}

void col2imAdd(const ConvGeometry &g, const Layout &l, const float *col, float *dx) {
  forEachTap(g, l.cg, [&](int64_t row, int64_t at, int64_t to) { dx[to] += col[row * l.p + at]; });
}

} // namespace

void CpuConvolutions::run(const ConvCall &call, const std::array<DType, 3> &dtypes, void *input,
                          void *weight, void *result, const Blas &blas, ThreadPool &pool) {
  if (dtypes == std::array{DType::F32, DType::F32, DType::F32})
    return runF32(call, static_cast<float *>(input), static_cast<float *>(weight),
                  static_cast<float *>(result), blas, pool);
#ifdef KILN_HAVE_DNNL
  if (dtypes == std::array{DType::BF16, DType::BF16, DType::BF16} &&
      DnnlConvolutions::suits(call.geometry) &&
      onednn.run(call, DType::BF16, input, weight, result, pool))
    return;
#endif
  const ConvGeometry &g = call.geometry;
  std::array<void *, 3> data{input, weight, result};
  std::array<int64_t, 3> sizes{g.n * g.c * g.h * g.w, g.o * (g.c / g.groups) * g.kh * g.kw,
                               g.n * g.o * g.ho * g.wo};
  int written = call.pass == ConvCall::InputGrad ? 0 : call.pass == ConvCall::WeightGrad ? 1 : 2;
  // Each tensor converted in one chunk per thread.
  auto convert = [&](int i, bool widen) {
    widened[i].resize(sizes[i]);
    pool.run(pool.size(), [&](int64_t t) {
      for (int64_t e = sizes[i] * t / pool.size(); e < sizes[i] * (t + 1) / pool.size(); ++e)
        if (widen)
          widened[i][e] = floatAt(data[i], dtypes[i], e);
        else
          setFloatAt(data[i], dtypes[i], e, widened[i][e]);
    });
  };
  for (int i = 0; i < 3; ++i)
    if (i != written)
      convert(i, true);
  widened[written].resize(sizes[written]);
  runF32(call, widened[0].data(), widened[1].data(), widened[2].data(), blas, pool);
  convert(written, false);
}

void CpuConvolutions::runF32(const ConvCall &call, float *input, float *weight, float *result,
                             const Blas &blas, ThreadPool &pool) {
  const ConvGeometry &g = call.geometry;
#ifdef KILN_HAVE_DNNL
  if (DnnlConvolutions::suits(g) && onednn.run(call, DType::F32, input, weight, result, pool))
    return;
#endif
  Layout l = layoutOf(g);
  int64_t threads = std::min<int64_t>(pool.size(), g.n);
  int64_t inImage = g.c * g.h * g.w, outImage = g.o * l.p, weightSize = g.o * l.k;
  // Per thread: a column buffer, and for the weight's gradient a partial sum.
  int64_t colSize = l.direct ? 0 : l.k * l.p;
  int64_t perThread = colSize + (call.pass == ConvCall::WeightGrad ? weightSize : 0);
  scratch.resize(std::max<size_t>(scratch.size(), threads * perThread));
  if (call.pass == ConvCall::InputGrad)
    std::fill(input, input + g.n * inImage, 0.0f);
  pool.run(threads, [&](int64_t t) {
    float *col = scratch.data() + t * perThread, *partial = col + colSize;
    for (int64_t n = g.n * t / threads; n < g.n * (t + 1) / threads; ++n)
      for (int64_t grp = 0; grp < g.groups; ++grp) {
        float *x = input + n * inImage + grp * l.cg * g.h * g.w;
        float *y = result + n * outImage + grp * l.og * l.p;
        float *w = weight + grp * l.og * l.k;
        float *cols = l.direct ? x : col;
        switch (call.pass) {
        case ConvCall::Forward:
          if (!l.direct)
            im2col(g, l, x, col);
          blas.sgemm(false, false, l.og, l.p, l.k, w, l.k, cols, l.p, y, l.p);
          break;
        case ConvCall::InputGrad:
          // Into the column buffer, then scattered back (a direct call's
          // column is the input's gradient itself).
          blas.sgemm(true, false, l.k, l.p, l.og, w, l.k, y, l.p, cols, l.p);
          if (!l.direct)
            col2imAdd(g, l, col, x);
          break;
        case ConvCall::WeightGrad: {
          if (!l.direct)
            im2col(g, l, x, col);
          bool first = n == g.n * t / threads;
          blas.sgemm(false, true, l.og, l.k, l.p, y, l.p, cols, l.p, partial + grp * l.og * l.k,
                     l.k, first ? 0.0f : 1.0f);
          break;
        }
        }
      }
  });
  if (call.pass == ConvCall::WeightGrad) {
    // The threads' partial sums, added in thread order (deterministic for
    // a given thread count).
    std::copy(scratch.data() + colSize, scratch.data() + colSize + weightSize, weight);
    for (int64_t t = 1; t < threads; ++t) {
      const float *partial = scratch.data() + t * perThread + colSize;
      for (int64_t i = 0; i < weightSize; ++i)
        weight[i] += partial[i];
    }
  }
}

} // namespace kiln
