//===- Resample.h - Pillow's resize of a crop, and flips ----------*- C++ -*-===//
//
// torchvision resizes a PIL image with Image.resize, Pillow's separable,
// antialiased convolution: the filter (bicubic a = −0.5, or the triangle)
// widens by the shrink factor, taps outside the input are dropped and the
// rest renormalised, coefficients are 22-bit fixed point, and the
// horizontal pass runs first and rounds to 8 bits before the vertical one.
// These functions compute the same bytes as Pillow 9.4 for 1- and
// 3-channel images.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_RUNTIME_DATA_RESAMPLE_H
#define KILN_RUNTIME_DATA_RESAMPLE_H

#include "runtime/data/CropBox.h"
#include "runtime/data/Image.h"

namespace kiln::data {

enum class Filter { Bilinear, Bicubic };

/// PIL's img.crop((left, top, left + width, top + height)).resize((outW,
/// outH), filter): parts of the box outside the image read as zeros, as
/// PIL's crop fills them. `out` (which may be `in`) becomes outH × outW with
/// in's channels. Cost: per output value, (2⌈2·shrink⌉ + 1) taps (bicubic;
/// half for bilinear) in each of the two passes, plus two transposes.
void resizeCrop(const Image &in, const CropBox &box, int64_t outH, int64_t outW, Filter filter,
                Image &out);

/// The box [x0, x1) × [y0, y1) in pixels, fractional, of `in` resized to
/// outH × outW: PIL's window.resize((outW, outH), filter, box=(x0 − ⌊x0⌋,
/// y0 − ⌊y0⌋, x1 − ⌊x0⌋, y1 − ⌊y0⌋)) of window = img.crop((⌊x0⌋, ⌊y0⌋, ⌈x1⌉,
/// ⌈y1⌉)). A box mapped into an image decoded at a smaller scale lands on
/// such fractional coordinates. resizeCrop is this with an integer box.
void resizeCropScaled(const Image &in, double x0, double y0, double x1, double y1, int64_t outH,
                      int64_t outW, Filter filter, Image &out);

/// out(x, y) = in(y, x) for h×w pixels of `channels` bytes, rows of `in`
/// inStride bytes apart, `out` packed (w rows of h pixels). The separable
/// passes here and in Blur.cpp run along the outer axis, a whole row of
/// bytes per step (which vectorises); turning the image makes its rows'
/// pass such a pass.
void transposePixels(const uint8_t *in, int64_t inStride, int64_t h, int64_t w, int64_t channels,
                     uint8_t *out);

/// Mirrors the image left to right in place (PIL's FLIP_LEFT_RIGHT).
void flipHorizontal(Image &img);

} // namespace kiln::data

#endif // KILN_RUNTIME_DATA_RESAMPLE_H
