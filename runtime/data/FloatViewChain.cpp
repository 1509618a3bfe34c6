//===- FloatViewChain.cpp - ref.py's augmentations on [0, 1] floats -------===//
#include "runtime/data/FloatViewChain.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace kiln::data {
namespace {

/// The image's channel planes as [0, 1] floats.
using Planes = std::vector<std::vector<float>>;

/// PyTorch's bicubic convolution weights (A = -0.75) of the 4 taps around
/// a sample at fraction t past the second tap.
void cubicWeights(double t, double w[4]) {
  const double A = -0.75;
  auto near = [&](double x) { return ((A + 2) * x - (A + 3)) * x * x + 1; };
  auto far = [&](double x) { return ((A * x - 5 * A) * x + 8 * A) * x - 4 * A; };
  w[0] = far(t + 1);
  w[1] = near(t);
  w[2] = near(1 - t);
  w[3] = far(2 - t);
}

/// RandomResizedCrop + flip of h×w planes to s×s: torchvision's box (10
/// tries of scale and log-ratio, else the whole image), then
/// grid_sample(bicubic, border, align_corners=False) of the box, clamped
/// to [0, 1]. Cost: 16 taps per output value.
void resizedCrop(const ViewSpec &v, const Planes &in, int64_t h, int64_t w, Random &rng,
                 float *out) {
  double area = double(h * w), bw = double(w), bh = double(h);
  for (int attempt = 0; attempt < 10; ++attempt) {
    double s = v.scale[0] + (v.scale[1] - v.scale[0]) * rng.uniform();
    double logr = std::log(v.ratio[0]) + (std::log(v.ratio[1]) - std::log(v.ratio[0])) * rng.uniform();
    double ar = std::exp(logr);
    double cw = std::round(std::sqrt(s * area * ar)), ch = std::round(std::sqrt(s * area / ar));
    if (cw > 0 && cw <= w && ch > 0 && ch <= h) {
      bw = cw;
      bh = ch;
      break;
    }
  }
  double top = std::floor(rng.uniform() * (h - bh + 1));
  double left = std::floor(rng.uniform() * (w - bw + 1));
  bool flip = v.flip > 0 && rng.uniform() < v.flip;
  int64_t n = v.size;
  for (int64_t oy = 0; oy < n; ++oy) {
    // Output pixel centre -> the box -> source pixel coordinates.
    double gy = bh / h * ((2.0 * oy + 1) / n - 1) + (2 * top + bh) / h - 1;
    double iy = ((gy + 1) * h - 1) / 2;
    double y0 = std::floor(iy), wy[4];
    cubicWeights(iy - y0, wy);
    for (int64_t ox = 0; ox < n; ++ox) {
      double xn = (2.0 * ox + 1) / n - 1;
      double gx = bw / w * (flip ? -xn : xn) + (2 * left + bw) / w - 1;
      double ix = ((gx + 1) * w - 1) / 2;
      double x0 = std::floor(ix), wx[4];
      cubicWeights(ix - x0, wx);
      for (size_t c = 0; c < in.size(); ++c) {
        double acc = 0;
        for (int a = 0; a < 4; ++a) {
          int64_t sy = std::clamp<int64_t>(int64_t(y0) - 1 + a, 0, h - 1);
          for (int b = 0; b < 4; ++b) {
            int64_t sx = std::clamp<int64_t>(int64_t(x0) - 1 + b, 0, w - 1);
            acc += wy[a] * wx[b] * in[c][sy * w + sx];
          }
        }
        out[(c * n + oy) * n + ox] = static_cast<float>(std::clamp(acc, 0.0, 1.0));
      }
    }
  }
}

/// RandomCrop(size, padding=pad) (zero fill), or a centre crop, + flip.
void paddedCrop(const ViewSpec &v, const Planes &in, int64_t h, int64_t w, Random &rng,
                float *out) {
  int64_t s = v.size, dy, dx;
  if (v.pad > 0) {
    dy = static_cast<int64_t>(rng.next() % (h + 2 * v.pad - s + 1));
    dx = static_cast<int64_t>(rng.next() % (w + 2 * v.pad - s + 1));
  } else {
    dy = (h - s) / 2;
    dx = (w - s) / 2;
  }
  bool flip = v.flip > 0 && rng.uniform() < v.flip;
  for (size_t c = 0; c < in.size(); ++c)
    for (int64_t y = 0; y < s; ++y)
      for (int64_t x = 0; x < s; ++x) {
        int64_t sy = dy + y - v.pad, sx = dx + (flip ? s - 1 - x : x) - v.pad;
        out[(c * s + y) * s + x] =
            (sy >= 0 && sy < h && sx >= 0 && sx < w) ? in[c][sy * w + sx] : 0.0f;
      }
}

/// Brightness and contrast jitter in random order, each clamped to [0, 1];
/// contrast pulls towards the mean of all values.
void colorJitter(const ViewSpec &v, float *x, int64_t n, Random &rng) {
  double bf = 1 - v.brightness + 2 * v.brightness * rng.uniform();
  double cf = 1 - v.contrast + 2 * v.contrast * rng.uniform();
  bool brightFirst = rng.uniform() < 0.5;
  auto bright = [&] {
    for (int64_t i = 0; i < n; ++i)
      x[i] = static_cast<float>(std::clamp(x[i] * bf, 0.0, 1.0));
  };
  auto contrast = [&] {
    double mean = 0;
    for (int64_t i = 0; i < n; ++i)
      mean += x[i];
    mean /= n;
    for (int64_t i = 0; i < n; ++i)
      x[i] = static_cast<float>(std::clamp(cf * x[i] + (1 - cf) * mean, 0.0, 1.0));
  };
  if (brightFirst) {
    bright();
    contrast();
  } else {
    contrast();
    bright();
  }
}

/// 3×3 separable Gaussian blur of each s×s plane, reflect padding.
void blur3(const ViewSpec &v, float *x, int64_t s, Random &rng) {
  double sigma = v.blurSigma[0] + (v.blurSigma[1] - v.blurSigma[0]) * rng.uniform();
  double side = std::exp(-1.0 / (2 * sigma * sigma)), k[3] = {side, 1.0, side};
  double total = 2 * side + 1;
  for (double &c : k)
    c /= total;
  auto reflect = [&](int64_t i) { return i < 0 ? -i : i >= s ? 2 * s - 2 - i : i; };
  std::vector<float> tmp(s * s);
  for (int64_t c = 0; c < v.channels; ++c, x += s * s) {
    for (int64_t y = 0; y < s; ++y)
      for (int64_t xx = 0; xx < s; ++xx)
        tmp[y * s + xx] = static_cast<float>(k[0] * x[y * s + reflect(xx - 1)] + k[1] * x[y * s + xx] +
                                             k[2] * x[y * s + reflect(xx + 1)]);
    for (int64_t y = 0; y < s; ++y)
      for (int64_t xx = 0; xx < s; ++xx)
        x[y * s + xx] = static_cast<float>(k[0] * tmp[reflect(y - 1) * s + xx] + k[1] * tmp[y * s + xx] +
                                           k[2] * tmp[reflect(y + 1) * s + xx]);
  }
}

} // namespace

void floatViewChain(const ViewSpec &v, const Image &image, Random &rng, float *out) {
  int64_t h = image.height, w = image.width, n = v.floats();
  Planes planes(image.channels, std::vector<float>(h * w));
  for (int64_t c = 0; c < image.channels; ++c)
    for (int64_t i = 0; i < h * w; ++i)
      planes[c][i] = image.pixels[i * image.channels + c] / 255.0f;
  if (v.scale[1] > 0)
    resizedCrop(v, planes, h, w, rng, out);
  else
    paddedCrop(v, planes, h, w, rng, out);
  if (v.jitter > 0 && rng.uniform() < v.jitter)
    colorJitter(v, out, n, rng);
  if (v.blur > 0 && rng.uniform() < v.blur)
    blur3(v, out, v.size, rng);
  if (v.solarize > 0 && rng.uniform() < v.solarize)
    for (int64_t i = 0; i < n; ++i)
      out[i] = out[i] >= 128.0f / 255.0f ? 1.0f - out[i] : out[i];
}

} // namespace kiln::data
