//===- CropBox.cpp - where torchvision's crops fall -----------------------===//
#include "runtime/data/CropBox.h"

#include <algorithm>
#include <cmath>

namespace kiln::data {
namespace {

/// Python's int(round(x)): half to even (std::nearbyint in the default
/// rounding mode), where std::round would take 58.5 to 59.
int64_t roundHalfEven(double x) { return static_cast<int64_t>(std::nearbyint(x)); }

/// A uniform integer in 0..n−1 from one draw.
int64_t uniformBelow(Random &rng, int64_t n) {
  return static_cast<int64_t>(std::floor(rng.uniform() * static_cast<double>(n)));
}

} // namespace

CropBox randomResizedCropBox(int64_t height, int64_t width, const double scale[2],
                             const double ratio[2], Random &rng) {
  double area = static_cast<double>(height * width);
  double logLo = std::log(ratio[0]), logHi = std::log(ratio[1]);
  for (int attempt = 0; attempt < 10; ++attempt) {
    double targetArea = area * (scale[0] + (scale[1] - scale[0]) * rng.uniform());
    double aspect = std::exp(logLo + (logHi - logLo) * rng.uniform());
    int64_t w = roundHalfEven(std::sqrt(targetArea * aspect));
    int64_t h = roundHalfEven(std::sqrt(targetArea / aspect));
    if (w > 0 && w <= width && h > 0 && h <= height) {
      CropBox box;
      box.height = h;
      box.width = w;
      box.top = uniformBelow(rng, height - h + 1);
      box.left = uniformBelow(rng, width - w + 1);
      return box;
    }
  }
  // No try fitted: the whole image, narrowed to the nearest allowed ratio.
  double inRatio = static_cast<double>(width) / static_cast<double>(height);
  double minRatio = std::min(ratio[0], ratio[1]), maxRatio = std::max(ratio[0], ratio[1]);
  CropBox box;
  box.height = height;
  box.width = width;
  if (inRatio < minRatio)
    box.height = roundHalfEven(static_cast<double>(width) / minRatio);
  else if (inRatio > maxRatio)
    box.width = roundHalfEven(static_cast<double>(height) * maxRatio);
  box.top = (height - box.height) / 2;
  box.left = (width - box.width) / 2;
  return box;
}

CropBox centerCropBox(int64_t height, int64_t width, int64_t cropH, int64_t cropW) {
  // torchvision pads a too-small axis by (crop − size) // 2 before, then the
  // padded axis equals the crop and its offset is 0: −padding in the image.
  auto offset = [](int64_t size, int64_t crop) {
    return crop > size ? -((crop - size) / 2) : roundHalfEven((size - crop) / 2.0);
  };
  CropBox box;
  box.top = offset(height, cropH);
  box.left = offset(width, cropW);
  box.height = cropH;
  box.width = cropW;
  return box;
}

void resizeShortSide(int64_t height, int64_t width, int64_t size, int64_t &outH, int64_t &outW) {
  bool wide = width > height; // torchvision's short side is the width on ties
  int64_t shortSide = wide ? height : width, longSide = wide ? width : height;
  auto newLong = static_cast<int64_t>(static_cast<double>(size * longSide) /
                                      static_cast<double>(shortSide));
  outH = wide ? size : newLong;
  outW = wide ? newLong : size;
}

} // namespace kiln::data
