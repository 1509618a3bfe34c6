//===- Views.h - one augmented view of an image -------------------*- C++ -*-===//
//
// A view of the graph's `data.views` section turns a uint8 image into the
// normalised float tensor the step reads:
//   pad p, size s   random s×s crop of the image zero-padded by p
//                   (torchvision RandomCrop(s, padding=p)); without pad a
//                   centre crop when s is smaller than the image
//   flip q          horizontal flip with probability q
//   noise σ         + N(0, σ²) on [0, 1] pixels, no clamp (ref.py's sd view)
// then (x - mean)/std with data.normalize. Other view keys (scale, blur,
// solarize, color_jitter) are rejected at load until they are implemented.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_RUNTIME_DATA_VIEWS_H
#define KILN_RUNTIME_DATA_VIEWS_H

#include "runtime/data/Random.h"

#include <nlohmann/json.hpp>

#include <string>

namespace kiln::data {

struct ViewSpec {
  int64_t size = 28, pad = 0;
  double flip = 0.0, noise = 0.0;
  double mean = 0.0, std = 1.0;
};

/// Reads view `name` of a graph's data section; false with `error` naming
/// the key this runtime cannot apply.
bool parseView(const nlohmann::ordered_json &data, const std::string &name, ViewSpec &view,
               std::string &error);

/// The identity view of whole images (evaluation): normalisation only.
ViewSpec plainView(const nlohmann::ordered_json &data, int64_t size);

/// Writes view `v` of the h×w image `pixels` to `out` (size×size floats).
void applyView(const ViewSpec &v, const uint8_t *pixels, int64_t h, int64_t w, Random &rng,
               float *out);

} // namespace kiln::data

#endif // KILN_RUNTIME_DATA_VIEWS_H
