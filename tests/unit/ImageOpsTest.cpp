//===- ImageOpsTest.cpp - 8-bit image ops and crop boxes, closed forms ----===//
//
// Properties that hold exactly whatever Pillow's rounding: identities,
// constants, symmetries and single-value formulas. The bytes themselves are
// compared with PIL and torchvision by tests/data/check-image-ops.py.
//
//===----------------------------------------------------------------------===//
#include "runtime/data/Blur.h"
#include "runtime/data/ColorOps.h"
#include "runtime/data/CropBox.h"
#include "runtime/data/Resample.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <utility>
#include <vector>

using namespace kiln::data;

namespace {

/// An h×w×c image of varied bytes (a fixed linear congruential sequence).
Image pattern(int64_t h, int64_t w, int64_t c) {
  Image img(h, w, c);
  uint32_t state = 12345;
  for (uint8_t &v : img.pixels) {
    state = state * 1664525u + 1013904223u;
    v = static_cast<uint8_t>(state >> 24);
  }
  return img;
}

Image constant(int64_t h, int64_t w, int64_t c, uint8_t value) {
  Image img(h, w, c);
  std::fill(img.pixels.begin(), img.pixels.end(), value);
  return img;
}

Image pixel(uint8_t r, uint8_t g, uint8_t b) {
  Image img(1, 1, 3);
  img.pixels = {r, g, b};
  return img;
}

/// Pillow's Image.blend of one value, written out: d + f·(x − d) in float,
/// clipped to 0..255, truncated.
uint8_t blended(int d, int x, float f) {
  float t = static_cast<float>(d) + f * static_cast<float>(x - d);
  return static_cast<uint8_t>(std::clamp(t, 0.0f, 255.0f));
}

/// Pillow's L of (r, g, b): ITU-R 601-2 weights in 16-bit fixed point, rounded.
int luma(int r, int g, int b) { return (19595 * r + 38470 * g + 7471 * b + 32768) >> 16; }

const Filter kFilters[] = {Filter::Bicubic, Filter::Bilinear};

} // namespace

//===--- CropBox ----------------------------------------------------------===//

/// Every drawn box has a positive size and lies inside the image.
TEST(CropBox, BoxesLieInsideTheImage) {
  const double scales[][2] = {{0.08, 1.0}, {0.4, 1.0}, {0.05, 0.4}};
  const double ratio[2] = {3.0 / 4.0, 4.0 / 3.0};
  const int64_t sizes[][2] = {{375, 500}, {500, 375}, {200, 640}, {31, 57}, {1, 1}};
  for (auto &size : sizes)
    for (auto &scale : scales)
      for (uint64_t i = 0; i < 2000; ++i) {
        Random rng(1, 2, i);
        CropBox b = randomResizedCropBox(size[0], size[1], scale, ratio, rng);
        ASSERT_GT(b.height, 0);
        ASSERT_GT(b.width, 0);
        ASSERT_GE(b.top, 0);
        ASSERT_GE(b.left, 0);
        ASSERT_LE(b.top + b.height, size[0]);
        ASSERT_LE(b.left + b.width, size[1]);
      }
}

/// With a scale above 1 no try fits, so the box is torchvision's fallback:
/// the whole image, cut to the nearest allowed ratio and centred.
TEST(CropBox, FallbackForAnImpossibleScale) {
  const double scale[2] = {2.0, 3.0}, ratio[2] = {3.0 / 4.0, 4.0 / 3.0};
  Random rng(3, 4, 5);
  // 500 wide, 100 high: wider than 4:3, so w = round(100 · 4/3) = 133.
  CropBox wide = randomResizedCropBox(100, 500, scale, ratio, rng);
  EXPECT_EQ(wide.height, 100);
  EXPECT_EQ(wide.width, 133);
  EXPECT_EQ(wide.top, 0);
  EXPECT_EQ(wide.left, (500 - 133) / 2);
  // 100 wide, 500 high: taller than 3:4, so h = round(100 / (3/4)) = 133.
  CropBox tall = randomResizedCropBox(500, 100, scale, ratio, rng);
  EXPECT_EQ(tall.height, 133);
  EXPECT_EQ(tall.width, 100);
  EXPECT_EQ(tall.top, (500 - 133) / 2);
  EXPECT_EQ(tall.left, 0);
  // 300 wide, 301 high: within the ratio range, the whole image.
  CropBox whole = randomResizedCropBox(301, 300, scale, ratio, rng);
  EXPECT_EQ(whole.height, 301);
  EXPECT_EQ(whole.width, 300);
  EXPECT_EQ(whole.top, 0);
  EXPECT_EQ(whole.left, 0);
}

/// On an image large enough that every first try fits, the area fraction
/// is U(scale) and the log aspect ratio U(log ratio): their means over 10⁵
/// draws are within 1% of the analytic ones (of the range, for the log
/// ratio whose mean is 0), and the boxes' centres average the image centre.
TEST(CropBox, DrawsFollowTheScaleAndRatioDistributions) {
  const double scale[2] = {0.05, 0.4}, ratio[2] = {3.0 / 4.0, 4.0 / 3.0};
  const int64_t side = 1000, n = 100000;
  double area = 0, logRatio = 0, centre = 0;
  for (int64_t i = 0; i < n; ++i) {
    Random rng(9, 8, static_cast<uint64_t>(i));
    CropBox b = randomResizedCropBox(side, side, scale, ratio, rng);
    area += static_cast<double>(b.height * b.width) / (side * side);
    logRatio += std::log(static_cast<double>(b.width) / b.height);
    centre += (b.left + b.width / 2.0) / side;
  }
  double meanScale = (scale[0] + scale[1]) / 2, logRange = std::log(ratio[1]) - std::log(ratio[0]);
  EXPECT_NEAR(area / n, meanScale, 0.01 * meanScale);
  EXPECT_NEAR(logRatio / n, (std::log(ratio[0]) + std::log(ratio[1])) / 2, 0.01 * logRange);
  EXPECT_NEAR(centre / n, 0.5, 0.005);
}

/// CenterCrop rounds half to even: (341 − 224) / 2 = 58.5 → 58, 59.5 → 60.
TEST(CropBox, CenterCropRoundsHalfToEven) {
  CropBox b = centerCropBox(256, 341, 224, 224);
  EXPECT_EQ(b.left, 58);
  EXPECT_EQ(b.top, 16);
  EXPECT_EQ(b.height, 224);
  EXPECT_EQ(b.width, 224);
  EXPECT_EQ(centerCropBox(224, 343, 224, 224).left, 60);
}

/// A crop larger than the image sits after torchvision's zero padding of
/// (crop − size) // 2 before the image.
TEST(CropBox, CenterCropLargerThanTheImage) {
  CropBox b = centerCropBox(200, 201, 224, 230);
  EXPECT_EQ(b.top, -((224 - 200) / 2));
  EXPECT_EQ(b.left, -((230 - 201) / 2));
  EXPECT_EQ(b.height, 224);
  EXPECT_EQ(b.width, 230);
}

/// Resize(256): short side 256, long side int(256 · long / short).
TEST(CropBox, ResizeShortSideTruncates) {
  int64_t h, w;
  resizeShortSide(375, 500, 256, h, w); // 256 · 500 / 375 = 341.33
  EXPECT_EQ(h, 256);
  EXPECT_EQ(w, 341);
  resizeShortSide(500, 375, 256, h, w);
  EXPECT_EQ(h, 341);
  EXPECT_EQ(w, 256);
  resizeShortSide(999, 257, 256, h, w); // 256 · 999 / 257 = 995.1
  EXPECT_EQ(h, 995);
  EXPECT_EQ(w, 256);
  resizeShortSide(300, 300, 256, h, w);
  EXPECT_EQ(h, 256);
  EXPECT_EQ(w, 256);
}

//===--- Resample ---------------------------------------------------------===//

/// At the same size the filter is sampled at its centre: 1 there, 0 at the
/// other integers, so the resize copies the image.
TEST(ImageOps, ResizeAtTheSameSizeIsTheIdentity) {
  for (int64_t c : {1, 3})
    for (Filter f : kFilters) {
      Image img = pattern(37, 53, c), out;
      resizeCrop(img, CropBox{0, 0, 37, 53}, 37, 53, f, out);
      EXPECT_EQ(out.pixels, img.pixels);
      resizeCropScaled(img, 0, 0, 53, 37, 37, 53, f, out);
      EXPECT_EQ(out.pixels, img.pixels);
    }
}

/// The weights are normalised, so a constant stays constant at any size,
/// shrinking or enlarging, for integer and fractional boxes.
TEST(ImageOps, ResizeKeepsAConstant) {
  Image img = constant(60, 80, 3, 173), out;
  for (Filter f : kFilters) {
    for (auto [oh, ow] : {std::pair{7, 9}, {224, 224}, {60, 13}}) {
      resizeCrop(img, CropBox{5, 3, 41, 70}, oh, ow, f, out);
      ASSERT_EQ(out.height, oh);
      ASSERT_EQ(out.width, ow);
      for (uint8_t v : out.pixels)
        ASSERT_EQ(v, 173);
      resizeCropScaled(img, 2.25, 1.5, 77.75, 59.1, oh, ow, f, out);
      for (uint8_t v : out.pixels)
        ASSERT_EQ(v, 173);
    }
  }
}

/// A box reaching past the image reads zeros there (PIL's crop), so an
/// unscaled box is a zero-padded crop.
TEST(ImageOps, CropOutsideTheImageReadsZeros) {
  Image img = pattern(10, 12, 3), out;
  CropBox box = centerCropBox(10, 12, 14, 17);
  resizeCrop(img, box, 14, 17, Filter::Bicubic, out);
  for (int64_t y = 0; y < 14; ++y)
    for (int64_t x = 0; x < 17; ++x)
      for (int64_t c = 0; c < 3; ++c) {
        int64_t sy = y + box.top, sx = x + box.left;
        bool inside = sy >= 0 && sy < 10 && sx >= 0 && sx < 12;
        ASSERT_EQ(out.at(y, x, c), inside ? img.at(sy, sx, c) : 0) << y << " " << x;
      }
}

/// When every column is equal the horizontal pass keeps each row's value
/// (its weights are normalised), so outputs of any width have the same
/// columns: the vertical pass alone decides them.
TEST(ImageOps, ResizeIsSeparable) {
  Image img(30, 20, 1);
  for (int64_t y = 0; y < 30; ++y)
    for (int64_t x = 0; x < 20; ++x)
      img.at(y, x, 0) = static_cast<uint8_t>(7 * y);
  Image wide, narrow;
  resizeCrop(img, CropBox{0, 0, 30, 20}, 11, 20, Filter::Bicubic, wide);
  resizeCrop(img, CropBox{0, 0, 30, 20}, 11, 3, Filter::Bicubic, narrow);
  for (int64_t y = 0; y < 11; ++y)
    for (int64_t x = 0; x < 3; ++x)
      EXPECT_EQ(narrow.at(y, x, 0), wide.at(y, 0, 0));
}

TEST(ImageOps, FlipMirrorsAndTwiceIsTheIdentity) {
  Image img = pattern(5, 7, 3), flipped = img;
  flipHorizontal(flipped);
  for (int64_t y = 0; y < 5; ++y)
    for (int64_t x = 0; x < 7; ++x)
      for (int64_t c = 0; c < 3; ++c)
        ASSERT_EQ(flipped.at(y, x, c), img.at(y, 6 - x, c));
  flipHorizontal(flipped);
  EXPECT_EQ(flipped.pixels, img.pixels);
}

//===--- Colour -----------------------------------------------------------===//

TEST(ImageOps, BrightnessIsTheBlendWithBlack) {
  for (float f : {0.0f, 0.37f, 1.0f, 1.4f, 2.5f})
    for (int v : {0, 1, 77, 128, 200, 255}) {
      Image img = pixel(static_cast<uint8_t>(v), 0, 255);
      adjustBrightness(img, f);
      EXPECT_EQ(img.pixels[0], blended(0, v, f)) << v << " " << f;
      EXPECT_EQ(img.pixels[2], blended(0, 255, f)) << f;
    }
}

/// The degenerate image is gray at int(mean of L + 0.5): two pixels whose L
/// are 0 and 255 have mean 127.5, so gray 128.
TEST(ImageOps, ContrastBlendsWithTheRoundedMeanGray) {
  for (float f : {0.0f, 0.6f, 1.4f}) {
    Image img(1, 2, 3);
    img.pixels = {0, 0, 0, 255, 255, 255};
    adjustContrast(img, f);
    EXPECT_EQ(img.pixels[0], blended(128, 0, f)) << f;
    EXPECT_EQ(img.pixels[5], blended(128, 255, f)) << f;
    Image gray(1, 3, 1);
    gray.pixels = {10, 20, 31}; // mean 20.33 → 20
    adjustContrast(gray, f);
    EXPECT_EQ(gray.pixels[2], blended(20, 31, f)) << f;
  }
}

TEST(ImageOps, SaturationBlendsWithTheLuma) {
  for (float f : {0.0f, 0.6f, 1.0f, 1.7f}) {
    Image img = pixel(200, 40, 90);
    int l = luma(200, 40, 90);
    adjustSaturation(img, f);
    EXPECT_EQ(img.pixels[0], blended(l, 200, f)) << f;
    EXPECT_EQ(img.pixels[1], blended(l, 40, f)) << f;
    EXPECT_EQ(img.pixels[2], blended(l, 90, f)) << f;
  }
  Image single = pattern(4, 4, 1), before = single;
  adjustSaturation(single, 1.7f);
  EXPECT_EQ(single.pixels, before.pixels);
}

/// L's weights sum to 2^16, so grays keep their value; other pixels take
/// the rounded weighted sum, repeated on every output channel.
TEST(ImageOps, GrayscaleIsL24) {
  Image grays(1, 256, 3);
  for (int v = 0; v < 256; ++v)
    std::fill_n(&grays.pixels[3 * v], 3, static_cast<uint8_t>(v));
  Image l = toGrayscale(grays, 1);
  ASSERT_EQ(l.channels, 1);
  for (int v = 0; v < 256; ++v)
    EXPECT_EQ(l.pixels[v], v);
  const uint8_t chosen[][3] = {{255, 0, 0}, {0, 255, 0}, {0, 0, 255}, {12, 200, 99}};
  for (auto &p : chosen) {
    Image three = toGrayscale(pixel(p[0], p[1], p[2]), 3);
    ASSERT_EQ(three.channels, 3);
    for (int c = 0; c < 3; ++c)
      EXPECT_EQ(three.pixels[c], luma(p[0], p[1], p[2]));
  }
  Image single = pattern(3, 3, 1);
  EXPECT_EQ(toGrayscale(single, 3).pixels[4], single.pixels[1]);
}

/// 1/3 of the hue circle is 85 of Pillow's 8-bit hues, a whole sector of 6
/// steps of 42.5: red → green → blue → red exactly.
TEST(ImageOps, HueThirdTurnCyclesThePrimaries) {
  Image img(1, 3, 3);
  img.pixels = {255, 0, 0, 0, 255, 0, 0, 0, 255};
  adjustHue(img, 1.0f / 3.0f);
  EXPECT_EQ(img.pixels, (std::vector<uint8_t>{0, 255, 0, 0, 0, 255, 255, 0, 0}));
}

/// Pillow's HSV round trip is lossy, but gray pixels (saturation 0) come
/// back unchanged, and every pixel keeps its max (V) and its min (which
/// depends on S and V alone), whatever the hue shift.
TEST(ImageOps, HueKeepsGraysMaxAndMin) {
  Image img = pattern(16, 16, 3);
  for (int v = 0; v < 16; ++v)
    std::fill_n(&img.pixels[3 * v], 3, static_cast<uint8_t>(17 * v));
  for (float f : {-0.5f, -0.1f, 0.0f, 0.27f, 0.5f}) {
    Image shifted = img;
    adjustHue(shifted, f);
    Image reference = img;
    adjustHue(reference, 0.0f);
    for (int64_t i = 0; i < 256; ++i) {
      const uint8_t *a = &img.pixels[3 * i], *b = &shifted.pixels[3 * i], *r = &reference.pixels[3 * i];
      ASSERT_EQ(std::max({a[0], a[1], a[2]}), std::max({b[0], b[1], b[2]})) << i;
      ASSERT_EQ(std::min({r[0], r[1], r[2]}), std::min({b[0], b[1], b[2]})) << i;
      if (i < 16) {
        ASSERT_TRUE(std::equal(a, a + 3, b)) << i;
      }
    }
  }
  Image single = pattern(4, 4, 1), before = single;
  adjustHue(single, 0.3f);
  EXPECT_EQ(single.pixels, before.pixels);
}

TEST(ImageOps, SolarizeInvertsFromTheThreshold) {
  Image img(1, 256, 1);
  for (int v = 0; v < 256; ++v)
    img.pixels[v] = static_cast<uint8_t>(v);
  Image at128 = img, at200 = img;
  solarize(at128);
  solarize(at200, 200);
  for (int v = 0; v < 256; ++v) {
    EXPECT_EQ(at128.pixels[v], v < 128 ? v : 255 - v);
    EXPECT_EQ(at200.pixels[v], v < 200 ? v : 255 - v);
  }
}

//===--- Blur -------------------------------------------------------------===//

/// Each pass's weights sum to 2^24 or 2^24 − 1, so with the rounding half
/// a constant stays constant, at small and large radii.
TEST(ImageOps, BlurKeepsAConstant) {
  for (float r : {0.1f, 1.0f, 2.0f, 7.5f}) {
    Image img = constant(9, 40, 3, 201);
    pilGaussianBlur(img, r);
    for (uint8_t v : img.pixels)
      ASSERT_EQ(v, 201) << r;
  }
}

/// The box is symmetric and edges are replicated, so blurring commutes with
/// a mirror; weights are positive, so values stay within the input's range.
TEST(ImageOps, BlurCommutesWithFlipAndStaysInRange) {
  for (float r : {0.3f, 1.0f, 2.0f}) {
    Image img = pattern(23, 31, 3), flipped = img;
    flipHorizontal(flipped);
    pilGaussianBlur(img, r);
    pilGaussianBlur(flipped, r);
    flipHorizontal(flipped);
    EXPECT_EQ(img.pixels, flipped.pixels) << r;
    Image band = pattern(12, 12, 1);
    for (uint8_t &v : band.pixels)
      v = static_cast<uint8_t>(50 + v % 100);
    pilGaussianBlur(band, r);
    for (uint8_t v : band.pixels) {
      ASSERT_GE(v, 50);
      ASSERT_LE(v, 149);
    }
  }
}
