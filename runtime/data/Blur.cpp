//===- Blur.cpp - Pillow's Gaussian blur ----------------------------------===//
//
// Follows Pillow's src/libImaging/BoxBlur.c. Like ColorOps.cpp, compile
// without fused multiply-adds: the radius is float math whose last bit
// sets the weights.
//
//===----------------------------------------------------------------------===//
#include "runtime/data/Blur.h"
#include "runtime/data/Resample.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace kiln::data {
namespace {

/// One extended box pass in 24-bit fixed point: `radius` whole taps each
/// side of weight `whole`, one more each side of weight `edge`.
struct BoxKernel {
  int64_t radius = 0;
  uint32_t whole = 0, edge = 0;
};

/// Pillow's _gaussian_blur_radius and ImagingHorizontalBoxBlur's weights
/// for 3 passes of variance σ²/3 each. Float and double exactly as
/// BoxBlur.c mixes them: the float radius decides the weights' last bits.
BoxKernel boxKernel(float sigma) {
  const int passes = 3;
  float sigma2 = sigma * sigma / passes;
  float length = static_cast<float>(std::sqrt(12.0 * sigma2 + 1.0)); // box length
  float l = static_cast<float>(std::floor((length - 1.0) / 2.0));     // its whole radius
  float a = (2 * l + 1) * (l * (l + 1) - 3 * sigma2);                // its fraction
  a /= 6 * (sigma2 - (l + 1) * (l + 1));
  float radius = l + a;
  BoxKernel k;
  k.radius = static_cast<int64_t>(radius);
  k.whole = static_cast<uint32_t>(static_cast<float>(1u << 24) / (radius * 2 + 1));
  k.edge = ((1u << 24) - static_cast<uint32_t>(k.radius * 2 + 1) * k.whole) / 2;
  return k;
}

/// One pass along the outer axis of `in`: n elements of `lanes` bytes,
/// indices clamped to 0..n−1 (edge replicate), a running sum over the box
/// so each value costs O(1) whatever the radius; the lanes loop vectorises.
void boxPass(const uint8_t *in, uint8_t *out, int64_t n, int64_t lanes, const BoxKernel &k,
             std::vector<uint32_t> &sums) {
  auto at = [&](int64_t i) { return in + std::clamp<int64_t>(i, 0, n - 1) * lanes; };
  sums.assign(lanes, 0);
  uint32_t *acc = sums.data(); // a plain pointer: stores to `out` cannot move it
  for (int64_t d = -k.radius - 1; d < k.radius; ++d) { // the box of element −1
    const uint8_t *src = at(d);
    for (int64_t i = 0; i < lanes; ++i)
      acc[i] += src[i];
  }
  for (int64_t x = 0; x < n; ++x) {
    const uint8_t *leaving = at(x - k.radius - 1), *entering = at(x + k.radius);
    const uint8_t *beyond = at(x + k.radius + 1);
    uint8_t *dst = out + x * lanes;
    for (int64_t i = 0; i < lanes; ++i) {
      acc[i] += entering[i] - leaving[i];
      uint32_t sum = acc[i] * k.whole + (leaving[i] + beyond[i]) * k.edge;
      dst[i] = static_cast<uint8_t>((sum + (1u << 23)) >> 24);
    }
  }
}

/// Three passes along `n` elements of `lanes` bytes in `data`, through
/// `scratch` (as large), whose buffers are swapped rather than copied.
void threePasses(std::vector<uint8_t> &data, std::vector<uint8_t> &scratch, int64_t n,
                 int64_t lanes, const BoxKernel &k, std::vector<uint32_t> &sums) {
  boxPass(data.data(), scratch.data(), n, lanes, k, sums);
  boxPass(scratch.data(), data.data(), n, lanes, k, sums);
  boxPass(data.data(), scratch.data(), n, lanes, k, sums);
  data.swap(scratch);
}

} // namespace

void pilGaussianBlur(Image &img, float radius) {
  if (img.pixels.empty())
    return;
  BoxKernel k = boxKernel(radius);
  int64_t h = img.height, w = img.width, c = img.channels;
  std::vector<uint8_t> turned(img.pixels.size()), scratch(img.pixels.size());
  std::vector<uint32_t> sums;
  // Pillow blurs the rows first. Passes run along the outer axis, each step
  // a whole row of lanes (which vectorises), so the rows are turned into
  // columns for theirs.
  transposePixels(img.pixels.data(), w * c, h, w, c, turned.data());
  threePasses(turned, scratch, w, h * c, k, sums);
  transposePixels(turned.data(), h * c, w, h, c, img.pixels.data());
  threePasses(img.pixels, scratch, h, w * c, k, sums);
}

} // namespace kiln::data
