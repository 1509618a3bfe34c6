//===- ColorOps.cpp - torchvision's colour transforms on PIL images -------===//
//
// The arithmetic copies Pillow's C (Blend.c, Convert.c) expression by
// expression, float where it is float and double where it is double:
// the last bit of those intermediate values decides truncations. For the
// same reason it must be compiled without fused multiply-adds (Pillow's
// x86-64 build has none): -ffp-contract=off when FMA is enabled (-march).
//
//===----------------------------------------------------------------------===//
#include "runtime/data/ColorOps.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <vector>

namespace kiln::data {
namespace {

/// Pillow's L of an RGB pixel (Convert.c L24, ITU-R 601-2 rounded).
uint8_t luma(const uint8_t *rgb) {
  return static_cast<uint8_t>((19595 * rgb[0] + 38470 * rgb[1] + 7471 * rgb[2] + 0x8000) >> 16);
}

/// Pillow's Image.blend(degenerate, image, factor) of one value (Blend.c):
/// d + f·(x − d) in float, clipped to 0..255, truncated. (Blend.c clips only
/// when f is outside [0, 1], where inside the sum cannot leave 0..255.)
uint8_t blend(int degenerate, int value, float factor) {
  float t = static_cast<float>(degenerate) + factor * static_cast<float>(value - degenerate);
  return static_cast<uint8_t>(static_cast<int>(std::min(std::max(t, 0.0f), 255.0f)));
}

/// Blends every value with the constant `degenerate`, through a table.
void blendConstant(Image &img, int degenerate, float factor) {
  std::array<uint8_t, 256> table;
  for (int v = 0; v < 256; ++v)
    table[v] = blend(degenerate, v, factor);
  for (uint8_t &v : img.pixels)
    v = table[v];
}

/// C's round (half away from zero) of x ≥ 0 without a libm call: x − ⌊x⌋
/// is exact.
int roundHalfAway(double x) {
  int i = static_cast<int>(x);
  return i + static_cast<int>(x - i >= 0.5); // no branch: the halves are unpredictable
}

/// Pillow's rgb2hsv_row (Convert.c) for a pixel that is not gray (max >
/// min): hue and saturation scaled to 0..255 and truncated (value = max).
/// fmod(x, 1) of its x in [5/6, 11/6) is x or x − 1, both exact.
void rgbToHs(int r, int g, int b, int maxc, int minc, int &hue, int &saturation) {
  float cr = static_cast<float>(maxc - minc);
  float s = cr / static_cast<float>(maxc);
  float rc = static_cast<float>(maxc - r) / cr;
  float gc = static_cast<float>(maxc - g) / cr;
  float bc = static_cast<float>(maxc - b) / cr;
  float h;
  if (r == maxc)
    h = bc - gc;
  else if (g == maxc)
    h = static_cast<float>(2.0 + rc - bc);
  else
    h = static_cast<float>(4.0 + gc - rc);
  double wrapped = h / 6.0 + 1.0;
  h = static_cast<float>(wrapped >= 1.0 ? wrapped - 1.0 : wrapped);
  hue = static_cast<int>(h * 255.0);
  saturation = static_cast<int>(s * 255.0);
}

/// Pillow's 8-bit RGB → HSV → RGB with tables, built once (230 KB, 1 to
/// 5 ms). rgb2hsv's hue depends only on its branch (which channel is the
/// max, which the min), the spread max − min and the middle channel's
/// distance below the max; its saturation on the max and the spread:
/// tables of those replace its divisions. hsv2rgb's factors of the hue or
/// the saturation alone are tables of 256. Per pixel that leaves a few
/// lookups, multiplications and roundings.
class Hsv8 {
public:
  Hsv8() : hues(6 * kPairs), saturations(kPairs) {
    for (int spread = 1; spread < 256; ++spread)
      for (int d = 0; d <= spread; ++d) {
        // Per branch, a pixel with max = spread, min = 0 and the middle
        // channel d below the max (the same differences, so the same h).
        int m = spread - d, rgb[6][3] = {{spread, 0, m}, {spread, m, 0}, {0, spread, m},
                                         {m, spread, 0}, {0, m, spread}, {m, 0, spread}};
        for (int kind = 0; kind < 6; ++kind) {
          int hue, saturation;
          rgbToHs(rgb[kind][0], rgb[kind][1], rgb[kind][2], spread, 0, hue, saturation);
          hues[kind * kPairs + pair(spread, d)] = static_cast<uint8_t>(hue);
        }
      }
    for (int maxc = 1; maxc < 256; ++maxc)
      for (int spread = 1; spread <= maxc; ++spread) {
        int hue, saturation;
        rgbToHs(maxc, maxc - spread, maxc - spread, maxc, maxc - spread, hue, saturation);
        saturations[pair(maxc, spread)] = static_cast<uint8_t>(saturation);
      }
    for (int v = 0; v < 256; ++v) {
      int i = static_cast<int>(std::floor(static_cast<float>(v) * 6.0 / 255.0));
      sector[v] = i % 6;
      frac[v] = static_cast<float>(static_cast<float>(v) * 6.0 / 255.0 - static_cast<float>(i));
      oneMinusFrac[v] = 1.0 - frac[v];
      fs[v] = static_cast<float>(static_cast<float>(v) / 255.0);
    }
  }

  /// rgb2hsv's hue and saturation of a pixel with max > min.
  void toHs(int r, int g, int b, int maxc, int minc, int &hue, int &saturation) const {
    // Pillow's branch: the max is r, else g, else b; then which is the min.
    int kind, middle;
    if (r == maxc) {
      kind = g == minc ? 0 : 1;
      middle = g == minc ? b : g;
    } else if (g == maxc) {
      kind = r == minc ? 2 : 3;
      middle = r == minc ? b : r;
    } else {
      kind = r == minc ? 4 : 5;
      middle = r == minc ? g : r;
    }
    hue = hues[kind * kPairs + pair(maxc - minc, maxc - middle)];
    saturation = saturations[pair(maxc, maxc - minc)];
  }

  /// hsv2rgb (Convert.c) of a pixel with s > 0, its float and double steps
  /// as Pillow's.
  void toRgb(int h, int s, int v, uint8_t *rgb) const {
    float f = fs[s];
    double value = static_cast<float>(v);
    // Odd sectors use q = round(v (1 − f·frac)), f·frac a float product,
    // even ones t = round(v (1 − f (1 − frac))) in double: only that one.
    int sec = sector[h];
    const double both[2] = {f * oneMinusFrac[h], f * frac[h]}; // indexed: a branch would
    double qt = both[sec & 1];                                   // mispredict half the time
    // p and q or t are at most v (Pillow's CLIP8 never clips them).
    const uint8_t vpx[3] = {static_cast<uint8_t>(v),
                            static_cast<uint8_t>(roundHalfAway(value * (1.0 - f))),
                            static_cast<uint8_t>(roundHalfAway(value * (1.0 - qt)))};
    // Per sector, (r, g, b) as indices into vpx: (v,t,p) (q,v,p) (p,v,t) (p,q,v) (t,p,v) (v,p,q).
    static const uint8_t pick[6][3] = {{0, 2, 1}, {2, 0, 1}, {1, 0, 2}, {1, 2, 0}, {2, 1, 0}, {0, 1, 2}};
    for (int c = 0; c < 3; ++c)
      rgb[c] = vpx[pick[sec][c]];
  }

private:
  /// Index of (a, b), 0 ≤ b ≤ a < 256, in a triangular table.
  static int pair(int a, int b) { return a * (a + 1) / 2 + b; }
  static constexpr int kPairs = 256 * 257 / 2;

  std::vector<uint8_t> hues, saturations;
  int sector[256];          // ⌊6h/255⌋ mod 6
  float frac[256];          // 6h/255 − ⌊6h/255⌋, as float
  double oneMinusFrac[256]; // 1 − frac
  float fs[256];            // s/255, as float
};

} // namespace

void adjustBrightness(Image &img, float factor) { blendConstant(img, 0, factor); }

void adjustContrast(Image &img, float factor) {
  int64_t sum = 0, n = img.height * img.width;
  if (img.channels == 3)
    for (int64_t i = 0; i < n; ++i)
      sum += luma(&img.pixels[3 * i]);
  else
    for (int64_t i = 0; i < n; ++i)
      sum += img.pixels[i];
  // ImageStat's mean (a double) rounded by int(mean + 0.5).
  double mean = n > 0 ? static_cast<double>(sum) / static_cast<double>(n) : 0.0;
  blendConstant(img, static_cast<int>(mean + 0.5), factor);
}

void adjustSaturation(Image &img, float factor) {
  if (img.channels != 3)
    return; // L converted to L and back is the image: blend(x, x, f) = x
  // Row by row: the gray row first, then one flat loop that vectorises.
  int64_t n = img.width * 3;
  std::vector<uint8_t> gray(n);
  for (int64_t y = 0; y < img.height; ++y) {
    uint8_t *row = img.row(y);
    for (int64_t i = 0; i < n; i += 3)
      gray[i] = gray[i + 1] = gray[i + 2] = luma(row + i);
    for (int64_t i = 0; i < n; ++i)
      row[i] = blend(gray[i], row[i], factor);
  }
}

void adjustHue(Image &img, float hueFactor) {
  if (img.channels != 3)
    return;
  static const Hsv8 hsv;
  // np.uint8(hueFactor · 255): truncated toward zero, then taken mod 256.
  int shift = static_cast<int>(static_cast<double>(hueFactor) * 255.0) & 255;
  for (size_t i = 0; i < img.pixels.size(); i += 3) {
    uint8_t *p = &img.pixels[i];
    int maxc = std::max({p[0], p[1], p[2]}), minc = std::min({p[0], p[1], p[2]});
    if (maxc == minc)
      continue; // hue and saturation 0: back to (v, v, v), the same pixel
    int hue, saturation;
    hsv.toHs(p[0], p[1], p[2], maxc, minc, hue, saturation);
    hue = (hue + shift) & 255;
    if (saturation == 0)
      p[0] = p[1] = p[2] = static_cast<uint8_t>(maxc);
    else
      hsv.toRgb(hue, saturation, maxc, p);
  }
}

Image toGrayscale(const Image &img, int64_t outChannels) {
  Image out(img.height, img.width, outChannels);
  int64_t n = img.height * img.width;
  const uint8_t *p = img.pixels.data();
  uint8_t *q = out.pixels.data();
  for (int64_t i = 0; i < n; ++i, p += img.channels)
    for (int64_t c = 0, l = img.channels == 3 ? luma(p) : p[0]; c < outChannels; ++c)
      *q++ = static_cast<uint8_t>(l);
  return out;
}

void solarize(Image &img, int threshold) {
  for (uint8_t &v : img.pixels)
    v = v < threshold ? v : static_cast<uint8_t>(255 - v);
}

} // namespace kiln::data
