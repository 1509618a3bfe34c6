//===- Image.h - an 8-bit image as decoders and augmentations hold it -*- C++ -*-===//
//
// Rows of pixels with `channels` interleaved 8-bit values (HWC: 1 for
// grayscale, 3 for RGB), as PIL holds an "L" or "RGB" image. Decoders write
// it, the view pipeline works on it in 8 bits as torchvision's PIL path does
// (DINO's augmentations), and only the last step turns it into floats.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_RUNTIME_DATA_IMAGE_H
#define KILN_RUNTIME_DATA_IMAGE_H

#include <cstdint>
#include <vector>

namespace kiln::data {

struct Image {
  int64_t height = 0, width = 0, channels = 0;
  std::vector<uint8_t> pixels; // height × width × channels

  Image() = default;
  Image(int64_t height, int64_t width, int64_t channels)
      : height(height), width(width), channels(channels), pixels(height * width * channels) {}

  uint8_t *row(int64_t y) { return pixels.data() + y * width * channels; }
  const uint8_t *row(int64_t y) const { return pixels.data() + y * width * channels; }
  uint8_t &at(int64_t y, int64_t x, int64_t c) { return pixels[(y * width + x) * channels + c]; }
  uint8_t at(int64_t y, int64_t x, int64_t c) const {
    return pixels[(y * width + x) * channels + c];
  }
};

} // namespace kiln::data

#endif // KILN_RUNTIME_DATA_IMAGE_H
