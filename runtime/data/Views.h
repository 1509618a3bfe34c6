//===- Views.h - one augmented view of an image -------------------*- C++ -*-===//
//
// A view of the graph's `data.views` section turns an 8-bit image (any
// size, 1 or 3 channels) into the normalised C×size×size floats the step
// reads. Two chains:
//
// * With `interpolation` (bicubic or bilinear): torchvision's transforms on
//   PIL images, as DINO runs them, in 8 bits and bit-exact with Pillow:
//     resize r          Resize(r): short side r (evaluation)
//     scale, ratio      RandomResizedCrop (torchvision's box search and
//                       fallback) resampled by Pillow's antialiased filter
//     pad p             RandomCrop(size, padding=p), zero fill
//     (neither)         CenterCrop(size)
//     flip q            RandomHorizontalFlip(q)
//     color_jitter      RandomApply(ColorJitter(b, c, s, h), p): the four
//                       in a random order (PIL's ImageEnhance and 8-bit HSV)
//     grayscale p       RandomGrayscale(p) (L = 0.299R + 0.587G + 0.114B)
//     blur              RandomApply(PIL GaussianBlur(radius σ ~ U(sigma)), p)
//     solarize          RandomApply(solarize at 128, p)
//   A JPEG is decoded at 1/2, 1/4 or 1/8 (its DCT scaling) when every
//   view of it shrinks it at least that much.
//
// * Without: the float chain of ref.py on [0, 1] pixels, which the
//   Fashion-MNIST graphs' parity and accuracy comparisons use: crops
//   resampled as grid_sample(bicubic, border), jitter of brightness and
//   contrast, a 3×3 Gaussian blur, solarize at ≥ 128/255.
//
// Both end with + N(0, noise²) (no clamp), then (x − mean[c]) / std[c].
// `count` copies of a view are drawn independently and stacked view-major
// (copy c of sample i at row c·batch + i), as DINO's crops are.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_RUNTIME_DATA_VIEWS_H
#define KILN_RUNTIME_DATA_VIEWS_H

#include "runtime/data/CropBox.h"
#include "runtime/data/Image.h"
#include "runtime/data/Random.h"
#include "runtime/data/Resample.h"

#include <nlohmann/json.hpp>

#include <string>

namespace kiln::data {

struct ViewSpec {
  int64_t size = 28, pad = 0, count = 1, channels = 1, resize = 0;
  bool pil = false; // the 8-bit torchvision chain (interpolation given)
  bool centerCrop = false; // "crop": "center": a smaller view of other-sized images, meant
  Filter filter = Filter::Bicubic;
  double scale[2] = {0, 0}; // RandomResizedCrop when scale[1] > 0
  double ratio[2] = {3.0 / 4.0, 4.0 / 3.0};
  double flip = 0.0, noise = 0.0;
  double jitter = 0.0, brightness = 0.0, contrast = 0.0, saturation = 0.0, hue = 0.0;
  double grayscale = 0.0;
  double blur = 0.0, blurSigma[2] = {0.1, 2.0};
  double solarize = 0.0;
  double mean[3] = {0, 0, 0}, std[3] = {1, 1, 1};

  /// Floats one copy of the view writes.
  int64_t floats() const { return channels * size * size; }
};

/// Reads view `name` of a graph's data section; false with `error` naming
/// the key this runtime cannot apply.
bool parseView(const nlohmann::ordered_json &data, const std::string &name, ViewSpec &view,
               std::string &error);

/// The identity view of whole images (evaluation without a view of its
/// own): normalisation only.
ViewSpec plainView(const nlohmann::ordered_json &data, int64_t size, int64_t channels);

/// The random choices of one copy of a view, drawn before the image is
/// decoded (from its size alone) so the decoder can shrink it.
struct ViewDraw {
  int64_t height = 0, width = 0; // the image's size at full scale
  CropBox box;                   // RandomResizedCrop, RandomCrop or CenterCrop
  int64_t resizedH = 0, resizedW = 0; // Resize before the crop (0: none)
  bool flip = false;
  int order[4] = {0, 1, 2, 3}; // jitter: brightness, contrast, saturation, hue
  double factors[4] = {1, 1, 1, 0};
  bool jitter = false, grayscale = false, solarize = false;
  double blurRadius = 0; // 0: no blur
  double shrink = 1;     // how many times the view shrinks the image (min over the axes)
  int64_t reduction = 1; // the image was decoded at 1/reduction (a JPEG's DCT scaling)
};

/// Draws copy `rng` of view `v` of an h×w image (the 8-bit chain).
ViewDraw drawView(const ViewSpec &v, int64_t h, int64_t w, Random &rng);

/// Writes a view of `image` to `out` (v.floats() floats): the 8-bit chain
/// with `draw` (made by drawView at the image's full size; `image` may be
/// decoded at 1/draw.reduction, its boxes are then scaled), else the float
/// chain drawing from `rng`. Noise is drawn from `rng` in both. The image
/// must fit the view (fitsView).
void applyView(const ViewSpec &v, const ViewDraw &draw, const Image &image, Random &rng,
               float *out);

/// drawView (8-bit chain) then applyView on a full-size image; false when
/// the image does not fit the view.
bool drawAndApplyView(const ViewSpec &v, const Image &image, Random &rng, float *out);

/// Whether an h×w image can give view `v` (a padded crop needs the padded
/// image to hold the view); `error` says why not.
bool fitsView(const ViewSpec &v, int64_t h, int64_t w, std::string &error);

} // namespace kiln::data

#endif // KILN_RUNTIME_DATA_VIEWS_H
