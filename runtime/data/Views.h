//===- Views.h - one augmented view of an image -------------------*- C++ -*-===//
//
// A view of the graph's `data.views` section turns a uint8 image into the
// normalised float tensor the step reads, in the order of ref.py (and of
// DINO's DataAugmentationDINO):
//   scale [lo, hi], ratio   RandomResizedCrop to size×size (torchvision's
//                           box sampling, 10 tries then the whole image;
//                           bicubic resampling with border padding, clamped
//                           to [0, 1], as ref.py's grid_sample)
//   pad p (no scale)        random size×size crop of the image zero-padded
//                           by p (RandomCrop(size, padding=p)); with neither
//                           a centre crop when size is below the image's
//   flip q                  horizontal flip with probability q
//   color_jitter            with probability p: brightness ×U(1±b), contrast
//                           (x − mean)·U(1±c) + mean, in random order, each
//                           clamped to [0, 1]
//   blur                    with probability p: 3×3 Gaussian, σ ~ U(sigma),
//                           reflect padding
//   solarize                with probability p: x ≥ 128/255 becomes 1 − x
//   noise                   + N(0, std²) on [0, 1] pixels, no clamp
// then (x − mean)/std with data.normalize. `count` copies of a view are
// drawn independently and stacked view-major (copy c of sample i at row
// c·batch + i), as DINO's crops are.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_RUNTIME_DATA_VIEWS_H
#define KILN_RUNTIME_DATA_VIEWS_H

#include "runtime/data/Random.h"

#include <nlohmann/json.hpp>

#include <string>

namespace kiln::data {

struct ViewSpec {
  int64_t size = 28, pad = 0, count = 1;
  double scale[2] = {0, 0}; // RandomResizedCrop when scale[1] > 0
  double ratio[2] = {3.0 / 4.0, 4.0 / 3.0};
  double flip = 0.0, noise = 0.0;
  double jitter = 0.0, brightness = 0.0, contrast = 0.0;
  double blur = 0.0, blurSigma[2] = {0.1, 2.0};
  double solarize = 0.0;
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
