//===- CropBox.h - where torchvision's crops fall -----------------*- C++ -*-===//
//
// The boxes of RandomResizedCrop, CenterCrop and the size of Resize(int) as
// torchvision 0.14 computes them, Python's half-to-even round included, so a
// view cut by kiln covers the pixels the same torchvision transform would.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_RUNTIME_DATA_CROPBOX_H
#define KILN_RUNTIME_DATA_CROPBOX_H

#include "runtime/data/Random.h"

#include <cstdint>

namespace kiln::data {

/// A rectangle of an image in pixels; top and left may be negative (and the
/// box may reach past the image) for a centre crop larger than the image,
/// whose outside reads as zeros.
struct CropBox {
  int64_t top = 0, left = 0, height = 0, width = 0;
};

/// RandomResizedCrop.get_params on a height×width image: 10 tries of an area
/// fraction s ~ U(scale) and a log-uniform aspect ratio in `ratio`, the first
/// box that fits at a uniform position; else the centred box of the whole
/// image clamped to the ratio range.
CropBox randomResizedCropBox(int64_t height, int64_t width, const double scale[2],
                             const double ratio[2], Random &rng);

/// CenterCrop(cropH, cropW): the centred box, top = round((H − cropH) / 2)
/// half-to-even; a crop larger than the image sits where torchvision's zero
/// padding puts it.
CropBox centerCropBox(int64_t height, int64_t width, int64_t cropH, int64_t cropW);

/// Resize(size) with an int: the short side becomes `size` and the long one
/// int(size · long / short), truncated.
void resizeShortSide(int64_t height, int64_t width, int64_t size, int64_t &outH, int64_t &outW);

} // namespace kiln::data

#endif // KILN_RUNTIME_DATA_CROPBOX_H
