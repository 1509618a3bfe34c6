//===- Blur.h - Pillow's Gaussian blur ----------------------------*- C++ -*-===//
//
// DINO blurs with PIL's ImageFilter.GaussianBlur(radius = σ): not a sampled
// Gaussian but three passes of an "extended" box filter (a box of integer
// radius plus fractional end taps, Gwosdek et al. 2011) per axis, each pass
// rounded to 8 bits, edges replicated (Pillow 9.4 BoxBlur.c).
//
//===----------------------------------------------------------------------===//
#ifndef KILN_RUNTIME_DATA_BLUR_H
#define KILN_RUNTIME_DATA_BLUR_H

#include "runtime/data/Image.h"

namespace kiln::data {

/// img.filter(ImageFilter.GaussianBlur(radius)) in place, bit-exact with
/// Pillow: three horizontal passes, then three vertical. Cost: 6 passes of
/// a few integer operations per value whatever the radius, plus two
/// transposes.
void pilGaussianBlur(Image &img, float radius);

} // namespace kiln::data

#endif // KILN_RUNTIME_DATA_BLUR_H
