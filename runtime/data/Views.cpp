//===- Views.cpp - one augmented view of an image -------------------------===//
#include "runtime/data/Views.h"

#include "runtime/data/Blur.h"
#include "runtime/data/ColorOps.h"
#include "runtime/data/FloatViewChain.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace kiln::data {
namespace {

/// Reads a [lo, hi] pair; false when `value` is not two numbers.
bool pair(const nlohmann::ordered_json &value, double out[2]) {
  if (!value.is_array() || value.size() != 2 || !value[0].is_number() || !value[1].is_number())
    return false;
  out[0] = value[0].get<double>();
  out[1] = value[1].get<double>();
  return true;
}

/// Reads normalize.mean or .std: one number for every channel, or one per
/// channel.
bool perChannel(const nlohmann::ordered_json &value, int64_t channels, double out[3]) {
  if (value.is_number()) {
    std::fill(out, out + 3, value.get<double>());
    return true;
  }
  if (!value.is_array() || static_cast<int64_t>(value.size()) != channels)
    return false;
  for (int64_t c = 0; c < channels; ++c) {
    if (!value[c].is_number())
      return false;
    out[c] = value[c].get<double>();
  }
  return true;
}

/// `image` with `channels` channels: grayscale (L) from RGB, or gray
/// replicated to RGB, as PIL's convert does.
Image withChannels(const Image &image, int64_t channels) {
  if (image.channels == channels)
    return image;
  if (channels == 1)
    return toGrayscale(image, 1);
  Image rgb(image.height, image.width, channels);
  for (int64_t i = 0; i < image.height * image.width; ++i)
    std::fill_n(&rgb.pixels[i * channels], channels, image.pixels[i * image.channels]);
  return rgb;
}

/// U(lo, hi).
double uniform(Random &rng, double lo, double hi) { return lo + (hi - lo) * rng.uniform(); }

/// The crop of the 8-bit chain, resampled (`draw` is at full size, `image`
/// may be decoded at 1/d: its boxes scale by 1/d, as a reduced pixel
/// covers d source pixels).
Image crop(const ViewSpec &v, const ViewDraw &draw, const Image &image) {
  Image out;
  double fy = 1.0 / draw.reduction, fx = fy;
  bool full = draw.reduction == 1;
  auto resample = [&](const Image &in, const CropBox &b, double sy, double sx, int64_t oh,
                      int64_t ow, Image &o) {
    if (sy == 1 && sx == 1)
      resizeCrop(in, b, oh, ow, v.filter, o);
    else
      resizeCropScaled(in, b.left * sx, b.top * sy, (b.left + b.width) * sx,
                       (b.top + b.height) * sy, oh, ow, v.filter, o);
  };
  if (draw.resizedH > 0) {
    Image resized;
    resample(image, CropBox{0, 0, draw.height, draw.width}, full ? 1 : fy, full ? 1 : fx,
             draw.resizedH, draw.resizedW, resized);
    resizeCrop(resized, draw.box, v.size, v.size, v.filter, out);
  } else {
    resample(image, draw.box, full ? 1 : fy, full ? 1 : fx, v.size, v.size, out);
  }
  return out;
}

/// The 8-bit chain's colour ops, in torchvision's order.
void colorOps(const ViewSpec &v, const ViewDraw &draw, Image &img) {
  if (draw.jitter)
    for (int op : draw.order) {
      double f = draw.factors[op];
      if (op == 0 && v.brightness > 0)
        adjustBrightness(img, static_cast<float>(f));
      else if (op == 1 && v.contrast > 0)
        adjustContrast(img, static_cast<float>(f));
      else if (op == 2 && v.saturation > 0)
        adjustSaturation(img, static_cast<float>(f));
      else if (op == 3 && v.hue > 0)
        adjustHue(img, static_cast<float>(f));
    }
  if (draw.grayscale)
    img = toGrayscale(img, img.channels);
  if (draw.blurRadius > 0)
    pilGaussianBlur(img, static_cast<float>(draw.blurRadius));
  if (draw.solarize)
    solarize(img);
}

} // namespace

ViewSpec plainView(const nlohmann::ordered_json &data, int64_t size, int64_t channels) {
  ViewSpec v;
  v.size = size;
  v.channels = channels;
  if (data.contains("normalize")) {
    // parseView reports a list of the wrong length; here it leaves the identity.
    perChannel(data["normalize"].value("mean", nlohmann::ordered_json(0.0)), channels, v.mean);
    perChannel(data["normalize"].value("std", nlohmann::ordered_json(1.0)), channels, v.std);
  }
  return v;
}

bool parseView(const nlohmann::ordered_json &data, const std::string &name, ViewSpec &view,
               std::string &error) {
  if (!data.contains("views") || !data["views"].contains(name)) {
    error = "the data section has no view '" + name + "'";
    return false;
  }
  const auto &spec = data["views"][name];
  int64_t channels = view.channels;
  view = plainView(data, spec.value("size", 28), channels);
  if (data.contains("normalize"))
    for (const char *key : {"mean", "std"})
      if (!perChannel(data["normalize"][key], channels, key[0] == 'm' ? view.mean : view.std)) {
        error = std::string("/data/normalize/") + key + ": give one number, or one per channel (" +
                std::to_string(channels) + ")";
        return false;
      }
  for (auto &[key, value] : spec.items()) {
    bool ok = true;
    if (key == "size" || key == "doc")
      continue;
    if (key == "count")
      view.count = value.get<int64_t>();
    else if (key == "pad")
      view.pad = value.get<int64_t>();
    else if (key == "resize")
      view.resize = value.get<int64_t>();
    else if (key == "crop") {
      view.centerCrop = value == "center";
      if (!view.centerCrop) {
        error = "view '" + name + "': crop must be 'center'";
        return false;
      }
    }
    else if (key == "interpolation") {
      view.pil = true;
      ok = value == "bicubic" || value == "bilinear";
      view.filter = value == "bilinear" ? Filter::Bilinear : Filter::Bicubic;
      if (!ok) {
        error = "view '" + name + "': interpolation must be 'bicubic' or 'bilinear'";
        return false;
      }
    } else if (key == "scale")
      ok = pair(value, view.scale);
    else if (key == "ratio")
      ok = pair(value, view.ratio);
    else if (key == "flip")
      view.flip = value.get<double>();
    else if (key == "noise")
      view.noise = value.value("std", 0.0);
    else if (key == "color_jitter") {
      view.jitter = value.value("p", 0.0);
      view.brightness = value.value("brightness", 0.0);
      view.contrast = value.value("contrast", 0.0);
      view.saturation = value.value("saturation", 0.0);
      view.hue = value.value("hue", 0.0);
    } else if (key == "grayscale")
      view.grayscale = value.value("p", 0.0);
    else if (key == "blur") {
      view.blur = value.value("p", 0.0);
      if (value.contains("sigma"))
        ok = pair(value["sigma"], view.blurSigma);
    } else if (key == "solarize")
      view.solarize = value.value("p", 0.0);
    else {
      error = "view '" + name + "': key '" + key + "' is not supported by this runtime";
      return false;
    }
    if (!ok) {
      error = "view '" + name + "': '" + key + "' needs two numbers [low, high]";
      return false;
    }
  }
  if (!view.pil && (view.saturation > 0 || view.hue > 0 || view.grayscale > 0 || view.resize > 0)) {
    error = "view '" + name + "': saturation, hue, grayscale and resize need the 8-bit chain "
            "(give 'interpolation': 'bicubic' or 'bilinear')";
    return false;
  }
  return true;
}

ViewDraw drawView(const ViewSpec &v, int64_t h, int64_t w, Random &rng) {
  ViewDraw d;
  d.height = h;
  d.width = w;
  int64_t ch = h, cw = w; // what the crop is taken from
  if (v.resize > 0) {
    resizeShortSide(h, w, v.resize, d.resizedH, d.resizedW);
    ch = d.resizedH;
    cw = d.resizedW;
    d.shrink = double(std::min(h, w)) / v.resize;
  }
  if (v.scale[1] > 0) {
    d.box = randomResizedCropBox(ch, cw, v.scale, v.ratio, rng);
    d.shrink *= std::min(d.box.width, d.box.height) / double(v.size);
  } else if (v.pad > 0) {
    int64_t top = static_cast<int64_t>(rng.next() % (ch + 2 * v.pad - v.size + 1));
    int64_t left = static_cast<int64_t>(rng.next() % (cw + 2 * v.pad - v.size + 1));
    d.box = {top - v.pad, left - v.pad, v.size, v.size};
  } else {
    d.box = centerCropBox(ch, cw, v.size, v.size);
  }
  d.flip = v.flip > 0 && rng.uniform() < v.flip;
  if (v.jitter > 0 && rng.uniform() < v.jitter) {
    d.jitter = true;
    for (int i = 3; i > 0; --i) // a random order of the four
      std::swap(d.order[i], d.order[rng.next() % (i + 1)]);
    d.factors[0] = uniform(rng, std::max(0.0, 1 - v.brightness), 1 + v.brightness);
    d.factors[1] = uniform(rng, std::max(0.0, 1 - v.contrast), 1 + v.contrast);
    d.factors[2] = uniform(rng, std::max(0.0, 1 - v.saturation), 1 + v.saturation);
    d.factors[3] = uniform(rng, -v.hue, v.hue);
  }
  d.grayscale = v.grayscale > 0 && rng.uniform() < v.grayscale;
  if (v.blur > 0 && rng.uniform() < v.blur)
    d.blurRadius = uniform(rng, v.blurSigma[0], v.blurSigma[1]);
  d.solarize = v.solarize > 0 && rng.uniform() < v.solarize;
  return d;
}

bool fitsView(const ViewSpec &v, int64_t h, int64_t w, std::string &error) {
  if (v.pad == 0 || v.scale[1] > 0 || v.resize > 0 ||
      (h + 2 * v.pad >= v.size && w + 2 * v.pad >= v.size))
    return true;
  error = "the image is " + std::to_string(w) + "x" + std::to_string(h) + ", too small for a " +
          std::to_string(v.size) + "-pixel crop with padding " + std::to_string(v.pad);
  return false;
}

void applyView(const ViewSpec &v, const ViewDraw &draw, const Image &image, Random &rng,
               float *out) {
  Image source = withChannels(image, v.channels);
  int64_t plane = v.size * v.size;
  if (v.pil) {
    Image view = crop(v, draw, source);
    if (draw.flip)
      flipHorizontal(view);
    colorOps(v, draw, view);
    for (int64_t c = 0; c < v.channels; ++c)
      for (int64_t i = 0; i < plane; ++i)
        out[c * plane + i] = view.pixels[i * v.channels + c] / 255.0f;
  } else {
    floatViewChain(v, source, rng, out);
  }
  for (int64_t c = 0; c < v.channels; ++c)
    for (int64_t i = 0; i < plane; ++i) {
      double p = out[c * plane + i];
      if (v.noise > 0)
        p += v.noise * rng.normal();
      out[c * plane + i] = static_cast<float>((p - v.mean[c]) / v.std[c]);
    }
}

bool drawAndApplyView(const ViewSpec &v, const Image &image, Random &rng, float *out) {
  ViewDraw draw;
  std::string unused;
  if (!fitsView(v, image.height, image.width, unused))
    return false;
  if (v.pil)
    draw = drawView(v, image.height, image.width, rng);
  applyView(v, draw, image, rng, out);
  return true;
}

} // namespace kiln::data
