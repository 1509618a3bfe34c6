//===- Views.cpp - one augmented view of an image -------------------------===//
#include "runtime/data/Views.h"

namespace kiln::data {

ViewSpec plainView(const nlohmann::ordered_json &data, int64_t size) {
  ViewSpec v;
  v.size = size;
  if (data.contains("normalize")) {
    v.mean = data["normalize"].value("mean", 0.0);
    v.std = data["normalize"].value("std", 1.0);
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
  view = plainView(data, spec.value("size", 28));
  for (auto &[key, value] : spec.items()) {
    if (key == "size" || key == "doc" || key == "count")
      continue;
    if (key == "pad")
      view.pad = value.get<int64_t>();
    else if (key == "flip")
      view.flip = value.get<double>();
    else if (key == "noise")
      view.noise = value.value("std", 0.0);
    else {
      error = "view '" + name + "': key '" + key + "' is not supported by this runtime yet";
      return false;
    }
  }
  return true;
}

void applyView(const ViewSpec &v, const uint8_t *pixels, int64_t h, int64_t w, Random &rng,
               float *out) {
  int64_t s = v.size;
  // The crop's top-left corner in padded coordinates.
  int64_t dy, dx;
  if (v.pad > 0) {
    dy = static_cast<int64_t>(rng.next() % (h + 2 * v.pad - s + 1));
    dx = static_cast<int64_t>(rng.next() % (w + 2 * v.pad - s + 1));
  } else {
    dy = (h - s) / 2;
    dx = (w - s) / 2;
  }
  bool flip = v.flip > 0 && rng.uniform() < v.flip;
  float scale = 1.0f / 255.0f;
  for (int64_t y = 0; y < s; ++y)
    for (int64_t x = 0; x < s; ++x) {
      int64_t sy = dy + y - v.pad, sx = dx + (flip ? s - 1 - x : x) - v.pad;
      float p = (sy >= 0 && sy < h && sx >= 0 && sx < w) ? pixels[sy * w + sx] * scale : 0.0f;
      if (v.noise > 0)
        p += static_cast<float>(v.noise * rng.normal());
      out[y * s + x] = static_cast<float>((p - v.mean) / v.std);
    }
}

} // namespace kiln::data
