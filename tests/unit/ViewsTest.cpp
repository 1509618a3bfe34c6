//===- ViewsTest.cpp - the augmentations against closed forms --------------===//
#include "runtime/data/Views.h"

#include <gtest/gtest.h>

#include <cmath>
#include <numeric>
#include <vector>

using namespace kiln::data;

namespace {

/// A 28×28 horizontal ramp: pixel (y, x) = 9·x.
std::vector<uint8_t> ramp() {
  std::vector<uint8_t> img(28 * 28);
  for (int y = 0; y < 28; ++y)
    for (int x = 0; x < 28; ++x)
      img[y * 28 + x] = static_cast<uint8_t>(9 * x);
  return img;
}

/// A view of the 28×28 one-channel image `img` into `out`.
void apply(const ViewSpec &v, const std::vector<uint8_t> &img, Random &rng, std::vector<float> &out) {
  Image image(28, 28, 1);
  image.pixels = img;
  drawAndApplyView(v, image, rng, out.data());
}

ViewSpec view(const char *json) {
  nlohmann::ordered_json data = {{"views", {{"v", nlohmann::ordered_json::parse(json)}}}};
  ViewSpec v;
  std::string error;
  EXPECT_TRUE(parseView(data, "v", v, error)) << error;
  return v;
}

} // namespace

/// Scale [1, 1] and ratio [1, 1] make the box the whole image; bicubic
/// resampling at the same size hits pixel centres, so the view is the image.
TEST(Views, WholeImageResizedCropIsIdentity) {
  auto img = ramp();
  ViewSpec v = view(R"({"size": 28, "scale": [1, 1], "ratio": [1, 1]})");
  std::vector<float> out(28 * 28);
  Random rng(1, 2, 3);
  apply(v, img, rng, out);
  for (int i = 0; i < 28 * 28; ++i)
    ASSERT_NEAR(out[i], img[i] / 255.0, 1e-6) << i;
}

/// Downsampling the whole ramp to 14×14: output column x samples source
/// position 2x + 0.5, where a linear ramp's bicubic interpolation is exact
/// (cubic convolution reproduces linear functions) away from the border.
TEST(Views, ResizedCropInterpolatesALinearRampExactly) {
  auto img = ramp();
  ViewSpec v = view(R"({"size": 14, "scale": [1, 1], "ratio": [1, 1], "flip": 1.0})");
  std::vector<float> out(14 * 14);
  Random rng(4, 5, 6);
  apply(v, img, rng, out);
  for (int x = 1; x < 13; ++x) // flipped: column x samples source position 26.5 - 2x
    EXPECT_NEAR(out[3 * 14 + x], 9.0 * (27 - (2 * x + 0.5)) / 255.0, 1e-5) << x;
}

/// A random box with scale in [0.1, 0.4] keeps the values of the image's
/// range, and the same (seed, stream, index) gives the same view.
TEST(Views, ResizedCropIsDeterministicAndInRange) {
  auto img = ramp();
  ViewSpec v = view(R"({"size": 12, "scale": [0.1, 0.4], "flip": 0.5})");
  std::vector<float> a(144), b(144), c(144);
  Random r1(7, 1, 9), r2(7, 1, 9), r3(7, 1, 10);
  apply(v, img, r1, a);
  apply(v, img, r2, b);
  apply(v, img, r3, c);
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
  for (float x : a) {
    EXPECT_GE(x, 0.0f);
    EXPECT_LE(x, 1.0f);
  }
}

/// Blur with p 1 keeps a constant image constant (the kernel sums to 1) and
/// smooths a single bright pixel into a 3×3 separable Gaussian.
TEST(Views, BlurIsANormalisedThreeByThreeGaussian) {
  std::vector<uint8_t> img(28 * 28, 0);
  img[10 * 28 + 10] = 255;
  ViewSpec v = view(R"({"size": 28, "blur": {"p": 1.0, "sigma": [1.0, 1.0]}})");
  std::vector<float> out(28 * 28);
  Random rng(0, 0, 0);
  apply(v, img, rng, out);
  double side = std::exp(-0.5), k0 = 1 / (1 + 2 * side), k1 = side / (1 + 2 * side);
  EXPECT_NEAR(out[10 * 28 + 10], k0 * k0, 1e-6);
  EXPECT_NEAR(out[9 * 28 + 10], k1 * k0, 1e-6);
  EXPECT_NEAR(out[9 * 28 + 9], k1 * k1, 1e-6);
  EXPECT_NEAR(std::accumulate(out.begin(), out.end(), 0.0), 1.0, 1e-5);
}

/// Solarize with p 1 inverts exactly the pixels at or above 128/255.
TEST(Views, SolarizeInvertsBrightPixels) {
  auto img = ramp();
  ViewSpec v = view(R"({"size": 28, "solarize": {"p": 1.0}})");
  std::vector<float> out(28 * 28);
  Random rng(0, 0, 0);
  apply(v, img, rng, out);
  for (int i = 0; i < 28 * 28; ++i) {
    float x = img[i] / 255.0f;
    EXPECT_FLOAT_EQ(out[i], x >= 128.0f / 255.0f ? 1.0f - x : x);
  }
}

/// Colour jitter with factors fixed at 1 ± 0 changes nothing; with a
/// contrast factor range it keeps values in [0, 1] and moves the image.
TEST(Views, ColorJitterIdentityAndRange) {
  auto img = ramp();
  std::vector<float> out(28 * 28);
  Random rng(0, 0, 0);
  apply(view(R"({"size": 28, "color_jitter": {"p": 1.0}})"), img, rng, out);
  for (int i = 0; i < 28 * 28; ++i)
    EXPECT_NEAR(out[i], img[i] / 255.0, 1e-6);
  Random rng2(0, 0, 0);
  apply(view(R"({"size": 28, "color_jitter": {"p": 1.0, "brightness": 0.4, "contrast": 0.4}})"), img, rng2, out);
  double moved = 0;
  for (int i = 0; i < 28 * 28; ++i) {
    EXPECT_GE(out[i], 0.0f);
    EXPECT_LE(out[i], 1.0f);
    moved += std::fabs(out[i] - img[i] / 255.0);
  }
  EXPECT_GT(moved, 1.0);
}

TEST(Views, BadRangeIsAnError) {
  nlohmann::ordered_json data = {{"views", {{"v", {{"size", 12}, {"scale", {0.1}}}}}}};
  ViewSpec v;
  std::string error;
  EXPECT_FALSE(parseView(data, "v", v, error));
  EXPECT_NE(error.find("'scale' needs two numbers"), std::string::npos) << error;
}
