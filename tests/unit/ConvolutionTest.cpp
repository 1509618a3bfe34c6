//===- ConvolutionTest.cpp - the CPU conv thunks against their definition -===//
//
// Every pass (forward, input gradient, weight gradient) of CpuConvolutions
// against a naive double-precision convolution, on shapes that take each
// path: oneDNN's blocked primitives (16+ channels per group, depthwise;
// DnnlConvolutions::suits) and im2col + OpenBLAS (1-channel stem, 1×1,
// few channels). Three images on two threads, so the threads get unequal
// shares (one image: a thread idle), channels that fill no whole block of
// 8, input rows no window reads (their gradient must be 0), and a second
// call on the same object reuses what the first made. In bf16 and f16 the
// tensors hold the rounded values and the definition is evaluated on
// those: a result may differ from it by its own rounding only (2^-8 and
// 2^-11 relative; the f32 accumulation adds ~1e-6).
//
//===----------------------------------------------------------------------===//
#include "runtime/exec/Convolution.h"

#include "runtime/artifact/LowFloat.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

namespace kiln {
namespace {

struct Case {
  const char *name;
  int64_t c, o, h, w, kh, kw, groups;
  std::array<int64_t, 2> stride, dilation;
  std::array<int64_t, 4> pad; // top, left, bottom, right
  bool onednn;                // the path DnnlConvolutions::suits picks
  int64_t n = 3;              // images (on 2 threads)
};

ConvGeometry geometryOf(const Case &k) {
  ConvGeometry g;
  g.n = k.n, g.c = k.c, g.h = k.h, g.w = k.w, g.o = k.o, g.kh = k.kh, g.kw = k.kw;
  g.stride = k.stride, g.dilation = k.dilation, g.pad = k.pad, g.groups = k.groups;
  g.ho = (g.h + g.pad[0] + g.pad[2] - (g.kh - 1) * g.dilation[0] - 1) / g.stride[0] + 1;
  g.wo = (g.w + g.pad[1] + g.pad[3] - (g.kw - 1) * g.dilation[1] - 1) / g.stride[1] + 1;
  return g;
}

/// Calls f(x index, w index, y index) for every multiply-add of the
/// forward convolution (NCHW, [O][C/g][KH][KW] weights).
template <typename F> void eachProduct(const ConvGeometry &g, F &&f) {
  int64_t cg = g.c / g.groups, og = g.o / g.groups;
  for (int64_t n = 0; n < g.n; ++n)
    for (int64_t o = 0; o < g.o; ++o)
      for (int64_t i = 0; i < g.ho; ++i)
        for (int64_t j = 0; j < g.wo; ++j)
          for (int64_t c = 0; c < cg; ++c)
            for (int64_t a = 0; a < g.kh; ++a)
              for (int64_t e = 0; e < g.kw; ++e) {
                int64_t h = i * g.stride[0] - g.pad[0] + a * g.dilation[0];
                int64_t w = j * g.stride[1] - g.pad[1] + e * g.dilation[1];
                if (h < 0 || h >= g.h || w < 0 || w >= g.w)
                  continue;
                int64_t ch = o / og * cg + c;
                f(((n * g.c + ch) * g.h + h) * g.w + w, ((o * cg + c) * g.kh + a) * g.kw + e,
                  ((n * g.o + o) * g.ho + i) * g.wo + j);
              }
}

/// A tensor of `size` elements of `dtype`, held as bytes.
struct Tensor {
  DType dtype;
  std::vector<uint8_t> bytes;
  Tensor(DType d, int64_t size, float fill = NAN) : dtype(d), bytes(size * elementBytes(d)) {
    for (int64_t i = 0; i < size; ++i)
      setFloatAt(bytes.data(), d, i, fill);
  }
  int64_t size() const { return bytes.size() / elementBytes(dtype); }
  float operator[](int64_t i) const { return floatAt(bytes.data(), dtype, i); }
};

double worstError(const Tensor &got, const std::vector<double> &want) {
  double worst = 0;
  for (size_t i = 0; i < want.size(); ++i)
    worst = std::max(worst, std::fabs(got[i] - want[i]) / std::max(1.0, std::fabs(want[i])));
  return worst;
}

class CpuConvolution : public ::testing::TestWithParam<Case> {};

TEST_P(CpuConvolution, EveryPassMatchesDefinition) {
  const Case &k = GetParam();
  ConvGeometry g = geometryOf(k);
#ifdef KILN_HAVE_DNNL
  ASSERT_EQ(DnnlConvolutions::suits(g), k.onednn) << "the case no longer takes its path";
#else
  if (k.onednn)
    GTEST_SKIP() << "kiln was built without oneDNN (apt-get install libdnnl-dev)";
#endif
  std::string error;
  Blas *blas = Blas::get(error);
  ASSERT_TRUE(blas) << error;
  ThreadPool pool(2);
  CpuConvolutions convolutions;

  for (DType dtype : {DType::F32, DType::BF16, DType::F16}) {
    std::mt19937 rng(7);
    std::uniform_real_distribution<float> u(-1.0f, 1.0f);
    auto random = [&](int64_t size) {
      Tensor t(dtype, size);
      for (int64_t i = 0; i < size; ++i)
        setFloatAt(t.bytes.data(), dtype, i, u(rng));
      return t;
    };
    Tensor x = random(g.n * g.c * g.h * g.w), w = random(g.o * g.c / g.groups * g.kh * g.kw),
           dy = random(g.n * g.o * g.ho * g.wo);
    std::vector<double> y(dy.size()), dx(x.size()), dw(w.size());
    eachProduct(g, [&](int64_t xi, int64_t wi, int64_t yi) {
      y[yi] += double(x[xi]) * w[wi];
      dx[xi] += double(dy[yi]) * w[wi];
      dw[wi] += double(dy[yi]) * x[xi];
    });
    double tolerance = dtype == DType::F32 ? 1e-5 : dtype == DType::BF16 ? 0x1p-8 : 0x1p-11;
    std::array<DType, 3> dtypes{dtype, dtype, dtype};

    for (int call = 0; call < 2; ++call) {
      ConvCall c;
      c.geometry = g;
      // Outputs start as garbage: every pass overwrites its result.
      Tensor gotY(dtype, y.size()), gotDx(dtype, x.size()), gotDw(dtype, w.size());
      c.pass = ConvCall::Forward;
      convolutions.run(c, dtypes, x.bytes.data(), w.bytes.data(), gotY.bytes.data(), *blas, pool);
      c.pass = ConvCall::InputGrad;
      Tensor dyCopy = dy;
      convolutions.run(c, dtypes, gotDx.bytes.data(), w.bytes.data(), dyCopy.bytes.data(), *blas,
                       pool);
      c.pass = ConvCall::WeightGrad;
      convolutions.run(c, dtypes, x.bytes.data(), gotDw.bytes.data(), dyCopy.bytes.data(), *blas,
                       pool);
      std::string in = std::string(" in ") + dtypeName(dtype) + ", call " + std::to_string(call);
      EXPECT_LT(worstError(gotY, y), tolerance) << "forward" << in;
      EXPECT_LT(worstError(gotDx, dx), tolerance) << "input gradient" << in;
      EXPECT_LT(worstError(gotDw, dw), tolerance) << "weight gradient" << in;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, CpuConvolution,
    ::testing::Values(
        Case{"resnet_3x3", 16, 16, 9, 9, 3, 3, 1, {1, 1}, {1, 1}, {1, 1, 1, 1}, true},
        Case{"strided_dilated_uneven_padding", 16, 24, 11, 10, 3, 2, 1, {2, 1}, {2, 1},
             {1, 0, 2, 1}, true},
        Case{"grouped", 32, 16, 8, 7, 3, 3, 2, {1, 2}, {1, 1}, {0, 1, 0, 1}, true},
        Case{"depthwise", 16, 16, 8, 8, 3, 3, 16, {1, 1}, {1, 1}, {1, 1, 1, 1}, true},
        Case{"partial_blocks_one_image", 20, 12, 7, 6, 3, 3, 1, {1, 1}, {1, 1}, {1, 1, 1, 1}, true, 1},
        Case{"rows_no_window_reads", 16, 8, 10, 10, 3, 3, 1, {2, 2}, {1, 1}, {0, 0, 0, 0}, true},
        Case{"stem_one_channel", 1, 16, 9, 9, 3, 3, 1, {1, 1}, {1, 1}, {1, 1, 1, 1}, false},
        Case{"pointwise_strided", 16, 32, 8, 8, 1, 1, 1, {2, 2}, {1, 1}, {0, 0, 0, 0}, false},
        Case{"pointwise", 16, 8, 5, 6, 1, 1, 1, {1, 1}, {1, 1}, {0, 0, 0, 0}, false},
        Case{"few_channels", 3, 8, 7, 7, 3, 3, 1, {1, 1}, {1, 1}, {1, 1, 1, 1}, false}),
    [](const ::testing::TestParamInfo<Case> &i) { return i.param.name; });

} // namespace
} // namespace kiln
