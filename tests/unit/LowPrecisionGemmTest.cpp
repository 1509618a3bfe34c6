//===- LowPrecisionGemmTest.cpp - bf16/f16 conversions and GEMMs ----------===//
//
// The runtime's conversions (LowFloat.h) against their definitions: every
// f16 and bf16 value widens exactly and narrows back to itself; f32 values
// round to nearest even (checked against _Float16, and for bf16 against
// the two neighbours); NaN stays NaN, overflow goes to infinity.
// CpuGemms in bf16 (oneDNN) and f16 (widened to sgemm) against the
// row-major definition in double on the same rounded operands: transposed
// operands, wide leading dimensions, batches (whole matrices per thread)
// and one large matrix (its rows split over the threads). The result may
// differ by the rounding of an f32 accumulation and one rounding to the
// output type.
//
//===----------------------------------------------------------------------===//
#include "GemmDefinition.h"

#include "runtime/artifact/LowFloat.h"
#include "runtime/exec/CpuGemms.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

namespace kiln {
namespace {

TEST(LowFloat, HalvesRoundTripAndFloatsRoundToNearestEven) {
  for (uint32_t h = 0; h < 65536; ++h) {
    float f = f16ToFloat(h);
    _Float16 ref;
    uint16_t bits = h;
    std::memcpy(&ref, &bits, 2);
    if (std::isnan(f)) {
      EXPECT_TRUE(std::isnan(static_cast<float>(ref)));
      continue;
    }
    ASSERT_EQ(f, static_cast<float>(ref)) << h;
    ASSERT_EQ(floatToF16(f), h) << h;
  }
  std::mt19937 rng(1);
  for (int i = 0; i < 1000000; ++i) {
    uint32_t x = rng();
    float f;
    std::memcpy(&f, &x, 4);
    if (std::isnan(f))
      continue;
    _Float16 r = static_cast<_Float16>(f);
    uint16_t want;
    std::memcpy(&want, &r, 2);
    ASSERT_EQ(floatToF16(f), want) << f;
  }
  EXPECT_TRUE(std::isnan(f16ToFloat(floatToF16(NAN))));
  EXPECT_EQ(f16ToFloat(floatToF16(65520.0f)), INFINITY);
}

TEST(LowFloat, Bf16RoundsToNearestEven) {
  for (uint32_t h = 0; h < 65536; ++h) {
    float f = bf16ToFloat(h);
    if (!std::isnan(f))
      ASSERT_EQ(floatToBf16(f), h) << h;
  }
  std::mt19937 rng(2);
  for (int i = 0; i < 1000000; ++i) {
    uint32_t x = rng() & 0x7fffffffu;
    float f;
    std::memcpy(&f, &x, 4);
    if (std::isnan(f) || std::isinf(f))
      continue;
    // The two bf16 neighbours of f, and which one f is nearest (above the
    // largest finite bf16 the next one is 2^128, which rounds to infinity).
    double down = bf16ToFloat(uint16_t(x >> 16)), up = bf16ToFloat(uint16_t((x >> 16) + 1));
    if (std::isinf(up))
      up = std::ldexp(1.0, 128);
    double dd = double(f) - down, du = up - f;
    uint16_t got = floatToBf16(f);
    uint16_t want = dd < du ? uint16_t(x >> 16) : du < dd ? uint16_t((x >> 16) + 1)
                                                           : uint16_t((x >> 16) + ((x >> 16) & 1));
    ASSERT_EQ(got, want) << f;
  }
  EXPECT_TRUE(std::isnan(bf16ToFloat(floatToBf16(NAN))));
  uint32_t smallNan = 0x7f800001u; // a NaN whose payload is all in the dropped bits
  float f;
  std::memcpy(&f, &smallNan, 4);
  EXPECT_TRUE(std::isnan(bf16ToFloat(floatToBf16(f))));
}

/// One GEMM thunk over fresh buffers, checked against double arithmetic.
void checkGemm(DType dtype, const GemmCall &g, int64_t aElems, int64_t bElems, int64_t cElems,
               ThreadPool &pool) {
  std::string error;
  Blas *blas = Blas::get(error);
  ASSERT_TRUE(blas) << error;
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> u(-1, 1);
  int64_t bytes = elementBytes(dtype);
  std::vector<uint8_t> a(aElems * bytes), b(bElems * bytes), c(cElems * bytes);
  for (int64_t i = 0; i < aElems; ++i)
    setFloatAt(a.data(), dtype, i, u(rng));
  for (int64_t i = 0; i < bElems; ++i)
    setFloatAt(b.data(), dtype, i, u(rng));
  CpuGemms gemms;
  gemms.run(g, dtype, dtype, a.data(), b.data(), c.data(), *blas, pool);
  double ulp = dtype == DType::BF16 ? 1.0 / 128 : 1.0 / 1024; // relative spacing, at most
  for (int64_t bi = 0; bi < g.batches(); ++bi) {
    auto off = test::gemmOffsets(g, bi);
    for (int64_t i = 0; i < g.m; ++i)
      for (int64_t j = 0; j < g.n; ++j) {
        double want = 0, magnitude = 0;
        for (int64_t l = 0; l < g.k; ++l) {
          double x = floatAt(a.data(), dtype, off[0] + (g.a.transpose ? l * g.a.ld + i : i * g.a.ld + l));
          double y = floatAt(b.data(), dtype, off[1] + (g.b.transpose ? j * g.b.ld + l : l * g.b.ld + j));
          want += x * y;
          magnitude += std::fabs(x * y);
        }
        double got = floatAt(c.data(), dtype, off[2] + i * g.c.ld + j);
        ASSERT_NEAR(got, want, std::fabs(want) * ulp + magnitude * g.k * 6e-8)
            << "batch " << bi << " (" << i << ", " << j << ")";
      }
  }
}

class LowPrecisionGemm : public ::testing::TestWithParam<DType> {};

TEST_P(LowPrecisionGemm, BatchedTransposedWithLeadingDims) {
  ThreadPool pool(2);
  // C[2,3][5×6] = A[2,3][5×7] · B[6×7]ᵀ (B broadcast over the batch), A
  // stored transposed with ld 9, C with ld 8.
  GemmCall g;
  g.m = 5, g.n = 6, g.k = 7;
  g.batch = {2, 3};
  g.a = {0, 1, 9, true, {3 * 7 * 9, 7 * 9}};
  g.b = {1, 2, 7, true, {0, 0}};
  g.c = {2, 3, 8, false, {3 * 5 * 8, 5 * 8}};
  checkGemm(GetParam(), g, 1 + 6 * 7 * 9, 2 + 6 * 7, 3 + 6 * 5 * 8, pool);
}

TEST_P(LowPrecisionGemm, OneLargeMatrixSplitByRows) {
  ThreadPool pool(2);
  GemmCall g;
  g.m = 300, g.n = 40, g.k = 64;
  g.a = {0, 0, 64, false, {}};
  g.b = {1, 0, 40, false, {}};
  g.c = {2, 0, 40, false, {}};
  checkGemm(GetParam(), g, 300 * 64, 64 * 40, 300 * 40, pool);
}

INSTANTIATE_TEST_SUITE_P(Dtypes, LowPrecisionGemm, ::testing::Values(DType::BF16, DType::F16),
                         [](const auto &info) { return std::string(dtypeName(info.param)); });

} // namespace
} // namespace kiln
