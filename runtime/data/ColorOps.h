//===- ColorOps.h - torchvision's colour transforms on PIL images -*- C++ -*-===//
//
// ColorJitter, RandomGrayscale and solarize as torchvision 0.14 runs them on
// PIL images (what DINO does), in 8 bits and bit-exact with Pillow 9.4:
// brightness, contrast and saturation are ImageEnhance's Image.blend with a
// degenerate image, hue is Pillow's 8-bit HSV round trip, grayscale is
// Pillow's L conversion. Images have 1 (PIL "L") or 3 ("RGB") channels.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_RUNTIME_DATA_COLOROPS_H
#define KILN_RUNTIME_DATA_COLOROPS_H

#include "runtime/data/Image.h"

namespace kiln::data {

/// F.adjust_brightness: blend with black.
void adjustBrightness(Image &img, float factor);

/// F.adjust_contrast: blend with the gray int(mean(L) + 0.5), L the 8-bit
/// grayscale of the image.
void adjustContrast(Image &img, float factor);

/// F.adjust_saturation: blend with the image's own grayscale; the identity
/// on one channel.
void adjustSaturation(Image &img, float factor);

/// F.adjust_hue (|hueFactor| ≤ 0.5): Pillow's RGB → 8-bit HSV, hue plus
/// np.uint8(hueFactor · 255) mod 256, HSV → RGB. Lossy even for 0; the
/// identity on one channel.
void adjustHue(Image &img, float hueFactor);

/// F.rgb_to_grayscale(img, outChannels): Pillow's L = (19595 R + 38470 G +
/// 7471 B + 2^15) >> 16, repeated on outChannels (1 or 3); a one-channel
/// image is its own L.
Image toGrayscale(const Image &img, int64_t outChannels);

/// ImageOps.solarize: values at or above `threshold` become 255 − v.
void solarize(Image &img, int threshold = 128);

} // namespace kiln::data

#endif // KILN_RUNTIME_DATA_COLOROPS_H
