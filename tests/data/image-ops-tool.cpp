//===- image-ops-tool.cpp - one 8-bit image op, for check-image-ops.py ----===//
//
// image-ops-tool IN H W C OUT OP [ARGS...] reads IN (raw H×W×C bytes),
// applies OP, writes the raw result to OUT and prints its "H W C"; rrc-box
// prints the box "top left height width" instead. OPs:
//   resize-crop TOP LEFT H W OUTH OUTW bicubic|bilinear
//   resize-crop-scaled X0 Y0 X1 Y1 OUTH OUTW bicubic|bilinear
//   brightness F | contrast F | saturation F | hue F | grayscale N
//   blur RADIUS | solarize | flip | center-crop CH CW
//   resize-short SIZE [bicubic|bilinear]  (bicubic: DINO's evaluation)
//   rrc-box SCALE0 SCALE1 RATIO0 RATIO1 SEED
//   view SPEC SEED: a whole view of the 8-bit chain (SPEC: a view's JSON,
//     its normalisation the identity) drawn with Random(SEED, 0, 0); prints
//     "H W C" and then the drawn choices as JSON for check-image-ops.py to
//     replay through torchvision
//
//===----------------------------------------------------------------------===//
#include "runtime/data/Blur.h"
#include "runtime/data/ColorOps.h"
#include "runtime/data/CropBox.h"
#include "runtime/data/Resample.h"
#include "runtime/data/Views.h"

#include <cmath>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <iterator>
#include <string>

using namespace kiln::data;

namespace {

int fail(const std::string &message) {
  std::cerr << "image-ops-tool: " << message << "\n";
  return 2;
}

double number(const char *text) { return std::strtod(text, nullptr); }
int64_t integer(const char *text) { return std::strtoll(text, nullptr, 10); }
Filter filterNamed(const std::string &name) {
  return name == "bilinear" ? Filter::Bilinear : Filter::Bicubic;
}

/// Applies op argv[0] with its arguments to `img`; false if unknown or
/// short of arguments.
bool apply(int argc, char **argv, Image &img) {
  std::string op = argv[0];
  auto needs = [&](int n) { return argc >= n + 1; };
  Image out;
  if (op == "resize-crop" && needs(7)) {
    CropBox box{integer(argv[1]), integer(argv[2]), integer(argv[3]), integer(argv[4])};
    resizeCrop(img, box, integer(argv[5]), integer(argv[6]), filterNamed(argv[7]), out);
  } else if (op == "resize-crop-scaled" && needs(7)) {
    resizeCropScaled(img, number(argv[1]), number(argv[2]), number(argv[3]), number(argv[4]),
                     integer(argv[5]), integer(argv[6]), filterNamed(argv[7]), out);
  } else if (op == "center-crop" && needs(2)) {
    CropBox box = centerCropBox(img.height, img.width, integer(argv[1]), integer(argv[2]));
    resizeCrop(img, box, box.height, box.width, Filter::Bicubic, out);
  } else if (op == "resize-short" && needs(1)) {
    int64_t h, w;
    resizeShortSide(img.height, img.width, integer(argv[1]), h, w);
    resizeCrop(img, CropBox{0, 0, img.height, img.width}, h, w,
               filterNamed(needs(2) ? argv[2] : "bicubic"), out);
  } else if (op == "grayscale" && needs(1)) {
    out = toGrayscale(img, integer(argv[1]));
  } else {
    out = std::move(img);
    if (op == "brightness" && needs(1))
      adjustBrightness(out, static_cast<float>(number(argv[1])));
    else if (op == "contrast" && needs(1))
      adjustContrast(out, static_cast<float>(number(argv[1])));
    else if (op == "saturation" && needs(1))
      adjustSaturation(out, static_cast<float>(number(argv[1])));
    else if (op == "hue" && needs(1))
      adjustHue(out, static_cast<float>(number(argv[1])));
    else if (op == "blur" && needs(1))
      pilGaussianBlur(out, static_cast<float>(number(argv[1])));
    else if (op == "solarize")
      solarize(out);
    else if (op == "flip")
      flipHorizontal(out);
    else
      return false;
  }
  img = std::move(out);
  return true;
}

} // namespace

/// Runs view `spec` on `img` (replaced by its 8-bit result) and prints
/// what was drawn.
int view(const char *spec, uint64_t seed, Image &img) {
  nlohmann::ordered_json data = {{"views", {{"v", nlohmann::ordered_json::parse(spec)}}}};
  ViewSpec v;
  v.channels = img.channels;
  std::string error;
  if (!parseView(data, "v", v, error))
    return fail(error);
  Random rng(seed, 0, 0);
  std::vector<float> out(v.floats());
  if (!fitsView(v, img.height, img.width, error))
    return fail(error);
  ViewDraw d = drawView(v, img.height, img.width, rng);
  applyView(v, d, img, rng, out.data());
  Image result(v.size, v.size, v.channels);
  int64_t plane = v.size * v.size;
  for (int64_t c = 0; c < v.channels; ++c)
    for (int64_t i = 0; i < plane; ++i)
      result.pixels[i * v.channels + c] = static_cast<uint8_t>(std::lround(out[c * plane + i] * 255));
  img = std::move(result);
  nlohmann::ordered_json drawn = {
      {"box", {d.box.top, d.box.left, d.box.height, d.box.width}},
      {"resized", {d.resizedH, d.resizedW}},
      {"flip", d.flip},
      {"jitter", d.jitter},
      {"order", {d.order[0], d.order[1], d.order[2], d.order[3]}},
      {"factors", {static_cast<float>(d.factors[0]), static_cast<float>(d.factors[1]),
                   static_cast<float>(d.factors[2]), static_cast<float>(d.factors[3])}},
      {"grayscale", d.grayscale},
      {"blur", static_cast<float>(d.blurRadius)},
      {"solarize", d.solarize}};
  std::printf("%lld %lld %lld\n%s\n", static_cast<long long>(img.height),
              static_cast<long long>(img.width), static_cast<long long>(img.channels),
              drawn.dump().c_str());
  return 0;
}

int main(int argc, char **argv) {
  if (argc < 7)
    return fail("usage: image-ops-tool IN H W C OUT OP [ARGS...]");
  Image img(integer(argv[2]), integer(argv[3]), integer(argv[4]));
  std::ifstream in(argv[1], std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (bytes.size() != img.pixels.size())
    return fail(std::string(argv[1]) + ": " + std::to_string(bytes.size()) + " bytes, expected " +
                std::to_string(img.pixels.size()));
  std::copy(bytes.begin(), bytes.end(), img.pixels.begin());
  if (std::string(argv[6]) == "rrc-box") {
    if (argc < 12)
      return fail("rrc-box SCALE0 SCALE1 RATIO0 RATIO1 SEED");
    double scale[2] = {number(argv[7]), number(argv[8])}, ratio[2] = {number(argv[9]), number(argv[10])};
    Random rng(static_cast<uint64_t>(integer(argv[11])), 0, 0);
    CropBox box = randomResizedCropBox(img.height, img.width, scale, ratio, rng);
    std::printf("%lld %lld %lld %lld\n", static_cast<long long>(box.top),
                static_cast<long long>(box.left), static_cast<long long>(box.height),
                static_cast<long long>(box.width));
    return 0;
  }
  bool isView = std::string(argv[6]) == "view";
  if (isView && argc < 9)
    return fail("view SPEC SEED");
  if (isView && view(argv[7], static_cast<uint64_t>(integer(argv[8])), img) != 0)
    return 2;
  if (!isView && !apply(argc - 6, argv + 6, img))
    return fail(std::string("unknown op or missing arguments: ") + argv[6]);
  std::ofstream(argv[5], std::ios::binary)
      .write(reinterpret_cast<const char *>(img.pixels.data()),
             static_cast<std::streamsize>(img.pixels.size()));
  if (!isView)
    std::printf("%lld %lld %lld\n", static_cast<long long>(img.height),
                static_cast<long long>(img.width), static_cast<long long>(img.channels));
  return 0;
}
