//===- Resample.cpp - Pillow's resize of a crop, and flips ----------------===//
//
// Follows Pillow's src/libImaging/Resample.c (precompute_coeffs,
// normalize_coeffs_8bpc, ImagingResampleHorizontal/Vertical_8bpc) with the
// same types, so the coefficients and sums are the same numbers. Two
// differences that change no byte: the horizontal pass runs on the
// transposed window, so both passes are one loop over whole rows that
// vectorises; and an axis that keeps its size, which Pillow skips, goes
// through its pass with the single tap of weight 1 that its filter gives.
// Like ColorOps.cpp, compile without fused multiply-adds.
//
//===----------------------------------------------------------------------===//
#include "runtime/data/Resample.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

namespace kiln::data {
namespace {

/// Pillow's PRECISION_BITS: 8 bits of result, 2 of headroom for the
/// negative lobes, in a 32-bit sum.
constexpr int kPrecisionBits = 32 - 8 - 2;

/// Pillow's bicubic_filter (Keys, a = −0.5), support 2.
double bicubic(double x) {
  const double a = -0.5;
  x = std::fabs(x);
  if (x < 1.0)
    return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
  if (x < 2.0)
    return (((x - 5) * x + 8) * x - 4) * a;
  return 0.0;
}

/// Pillow's bilinear_filter (the triangle), support 1.
double bilinear(double x) {
  x = std::fabs(x);
  return x < 1.0 ? 1.0 - x : 0.0;
}

/// The fixed-point taps of one axis: output i sums `count[i]` source pixels
/// from `first[i]` (image coordinates) weighted by weights[i·stride + t].
struct Taps {
  std::vector<int64_t> first, count;
  std::vector<int32_t> weights;
  int64_t stride = 0;
};

/// Pillow's coefficients for n outputs over the box [in0, in1) of a window
/// of `size` pixels starting at `start` on an axis of `extent` image pixels
/// (in0, in1 window-relative, float as Pillow takes them), turned to 22-bit
/// fixed point. Taps on window pixels outside the image, which PIL's crop
/// makes zero, and zero end taps are then dropped: they add nothing to a
/// sum. Cost: n · (2⌈support⌉ + 1).
Taps axisTaps(int64_t extent, int64_t start, int64_t size, float in0, float in1, int64_t n,
              Filter filter) {
  double (*kernel)(double) = filter == Filter::Bicubic ? bicubic : bilinear;
  double scale = static_cast<double>(in1 - in0) / static_cast<double>(n);
  double filterScale = std::max(scale, 1.0); // widen the filter only to shrink
  double support = (filter == Filter::Bicubic ? 2.0 : 1.0) * filterScale;
  double inverse = 1.0 / filterScale;
  Taps taps;
  taps.stride = static_cast<int64_t>(std::ceil(support)) * 2 + 1;
  taps.first.resize(n);
  taps.count.resize(n);
  taps.weights.assign(n * taps.stride, 0);
  std::vector<double> w(taps.stride);
  for (int64_t xx = 0; xx < n; ++xx) {
    double center = in0 + (xx + 0.5) * scale;
    // C int casts (toward zero) as Pillow rounds the ends.
    int64_t xmin = std::max<int64_t>(static_cast<int>(center - support + 0.5), 0);
    int64_t xmax = std::min<int64_t>(static_cast<int>(center + support + 0.5), size);
    double total = 0.0;
    for (int64_t x = xmin; x < xmax; ++x) {
      w[x - xmin] = kernel((static_cast<double>(x) - center + 0.5) * inverse);
      total += w[x - xmin];
    }
    int32_t *k = &taps.weights[xx * taps.stride];
    for (int64_t x = xmin; x < xmax; ++x) {
      double v = total != 0.0 ? w[x - xmin] / total : w[x - xmin];
      k[x - xmin] = static_cast<int32_t>(v < 0 ? -0.5 + v * (1 << kPrecisionBits)
                                               : 0.5 + v * (1 << kPrecisionBits));
    }
    int64_t lo = xmin, hi = xmax;
    while (lo < hi && (start + lo < 0 || k[lo - xmin] == 0))
      ++lo;
    while (hi > lo && (start + hi > extent || k[hi - 1 - xmin] == 0))
      --hi;
    std::copy(k + (lo - xmin), k + (hi - xmin), k);
    taps.first[xx] = start + lo;
    taps.count[xx] = hi - lo;
  }
  return taps;
}

/// Pillow's clip8: the sum's integer part clamped to 0..255.
uint8_t clip8(int32_t acc) {
  return static_cast<uint8_t>(std::clamp<int32_t>(acc >> kPrecisionBits, 0, 255));
}

/// One pass along the outer axis: output element i (`lanes` bytes) sums
/// the elements taps.first[i] + t − firstIndex of `in` (each `lanes`
/// bytes), all lanes at once so the inner loop vectorises. Cost: taps per
/// output value.
void outerPass(const uint8_t *in, int64_t firstIndex, int64_t lanes, const Taps &taps,
               uint8_t *out) {
  std::vector<int32_t> sums(lanes);
  int32_t *acc = sums.data(); // a plain pointer: stores to `out` cannot move it
  for (size_t i = 0; i < taps.first.size(); ++i, out += lanes) {
    std::fill_n(acc, lanes, 1 << (kPrecisionBits - 1)); // the rounding half
    const int32_t *k = &taps.weights[i * taps.stride];
    for (int64_t t = 0; t < taps.count[i]; ++t) {
      const uint8_t *src = in + (taps.first[i] + t - firstIndex) * lanes;
      for (int64_t j = 0; j < lanes; ++j)
        acc[j] += src[j] * k[t];
    }
    for (int64_t j = 0; j < lanes; ++j)
      out[j] = clip8(acc[j]);
  }
}

/// The range [first, last) of source indices that some output reads.
void span(const Taps &taps, int64_t &first, int64_t &last) {
  first = std::numeric_limits<int64_t>::max();
  last = 0;
  for (size_t i = 0; i < taps.first.size(); ++i)
    if (taps.count[i] > 0) {
      first = std::min(first, taps.first[i]);
      last = std::max(last, taps.first[i] + taps.count[i]);
    }
  first = std::min(first, last);
}

/// out(x, y) = in(y, x) for h×w pixels of kChannels bytes (0: `channels` at
/// run time), in tiles that keep both sides in cache.
template <int kChannels>
void transposeTiles(const uint8_t *in, int64_t inStride, int64_t h, int64_t w, int64_t channels,
                    uint8_t *out) {
  const int64_t c = kChannels ? kChannels : channels, tile = 32;
  for (int64_t y0 = 0; y0 < h; y0 += tile)
    for (int64_t x0 = 0; x0 < w; x0 += tile) {
      const int64_t yEnd = std::min(y0 + tile, h), xEnd = std::min(x0 + tile, w);
      for (int64_t y = y0; y < yEnd; ++y) {
        const uint8_t *src = in + y * inStride + x0 * c;
        uint8_t *dst = out + (x0 * h + y) * c;
        for (int64_t x = x0; x < xEnd; ++x, src += c, dst += h * c)
          for (int64_t ch = 0; ch < c; ++ch)
            dst[ch] = src[ch];
      }
    }
}

} // namespace

void transposePixels(const uint8_t *in, int64_t inStride, int64_t h, int64_t w, int64_t channels,
                     uint8_t *out) {
  if (channels == 3)
    transposeTiles<3>(in, inStride, h, w, channels, out);
  else if (channels == 1)
    transposeTiles<1>(in, inStride, h, w, channels, out);
  else
    transposeTiles<0>(in, inStride, h, w, channels, out);
}

void resizeCropScaled(const Image &in, double x0, double y0, double x1, double y1, int64_t outH,
                      int64_t outW, Filter filter, Image &out) {
  int64_t left = static_cast<int64_t>(std::floor(x0)), top = static_cast<int64_t>(std::floor(y0));
  int64_t right = static_cast<int64_t>(std::ceil(x1)), bottom = static_cast<int64_t>(std::ceil(y1));
  Taps across = axisTaps(in.width, left, right - left, static_cast<float>(x0 - left),
                         static_cast<float>(x1 - left), outW, filter);
  Taps down = axisTaps(in.height, top, bottom - top, static_cast<float>(y0 - top),
                       static_cast<float>(y1 - top), outH, filter);
  // Only the image pixels some output reads take part.
  int64_t rowFirst, rowLast, colFirst, colLast, c = in.channels;
  span(down, rowFirst, rowLast);
  span(across, colFirst, colLast);
  int64_t rows = rowLast - rowFirst, cols = colLast - colFirst;
  // The horizontal pass (first, as Pillow) along the outer axis of the
  // window turned, then turned back for the vertical pass.
  std::vector<uint8_t> turned(cols * rows * c), wideTurned(outW * rows * c), wide(rows * outW * c);
  transposePixels(in.pixels.data() + (rowFirst * in.width + colFirst) * c, in.width * c, rows, cols,
                  c, turned.data());
  outerPass(turned.data(), colFirst, rows * c, across, wideTurned.data());
  transposePixels(wideTurned.data(), rows * c, outW, rows, c, wide.data());
  out = Image(outH, outW, c);
  outerPass(wide.data(), rowFirst, outW * c, down, out.pixels.data());
}

void resizeCrop(const Image &in, const CropBox &box, int64_t outH, int64_t outW, Filter filter,
                Image &out) {
  resizeCropScaled(in, static_cast<double>(box.left), static_cast<double>(box.top),
                   static_cast<double>(box.left + box.width),
                   static_cast<double>(box.top + box.height), outH, outW, filter, out);
}

void flipHorizontal(Image &img) {
  const int64_t c = img.channels;
  for (int64_t y = 0; y < img.height; ++y) {
    uint8_t *row = img.row(y);
    for (int64_t l = 0, r = img.width - 1; l < r; ++l, --r)
      std::swap_ranges(row + l * c, row + (l + 1) * c, row + r * c);
  }
}

} // namespace kiln::data
