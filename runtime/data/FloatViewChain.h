//===- FloatViewChain.h - ref.py's augmentations on [0, 1] floats -*- C++ -*-===//
//
// The view chain of the PyTorch reference (../shared/reference/ref.py),
// which the Fashion-MNIST graphs are compared with step for step: crops
// resampled as grid_sample(bicubic, border, align_corners=False) from the
// whole image, brightness and contrast jitter, a 3×3 Gaussian blur and
// solarize at ≥ 128/255, each channel alike.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_RUNTIME_DATA_FLOATVIEWCHAIN_H
#define KILN_RUNTIME_DATA_FLOATVIEWCHAIN_H

#include "runtime/data/Views.h"

namespace kiln::data {

/// Writes the chain's [0, 1] output for `image` (v.channels channels) to
/// `out`, C×size×size, drawing from `rng`.
void floatViewChain(const ViewSpec &v, const Image &image, Random &rng, float *out);

} // namespace kiln::data

#endif // KILN_RUNTIME_DATA_FLOATVIEWCHAIN_H
