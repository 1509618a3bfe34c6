//===- Decode.h - JPEG, PNG and WebP bytes to an 8-bit image ----*- C++ -*-===//
//
// Decodes an image file the way torchvision's ImageFolder loads it with PIL:
// `Image.open(f).convert("RGB")`, or `.convert("L")` for a grayscale network
// input (L24 of the RGB decode). The content decides the format, never the
// file name. probeImage reads the header and the end of the file only, so a
// loader can list and skip bad files cheaply; decodeImage decodes, a JPEG
// optionally at 1/2, 1/4 or 1/8 scale in the DCT (as PIL's draft()).
//
// Every problem is an error naming the file (`name`, e.g. a path or
// "shard.tar:key.jpg") and what is wrong; nothing throws. A format whose
// library was missing when kiln was built is an error naming the Debian
// package to install.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_RUNTIME_DATA_DECODE_H
#define KILN_RUNTIME_DATA_DECODE_H

#include "runtime/data/Image.h"

#include <cstddef>
#include <cstdint>
#include <string>

namespace kiln::data {

enum class ImageFormat { Unknown, Jpeg, Png, Webp };

/// "JPEG", "PNG", "WebP" or "unknown".
const char *formatName(ImageFormat format);

/// The format from the magic bytes: FF D8 FF, the PNG signature, or
/// RIFF....WEBP.
ImageFormat sniffFormat(const uint8_t *data, size_t size);

struct ImageInfo {
  int64_t height = 0, width = 0;
  /// As stored: 1 gray, 2 gray + alpha, 3 colour, 4 colour + alpha or CMYK
  /// (a PNG palette counts as its entries: 3, or 4 with transparency).
  int64_t channels = 0;
  ImageFormat format = ImageFormat::Unknown;
};

/// Reads the header without decoding the pixels and checks what can be
/// checked without decoding: the file is not empty, its magic is known, the
/// header parses, the image is within PIL's decompression-bomb limit, and the
/// file ends where the format ends (a JPEG in FF D9 then optional zero bytes,
/// a PNG in its IEND chunk, a WebP at its RIFF size); otherwise "truncated".
bool probeImage(const uint8_t *data, size_t size, const std::string &name,
                ImageInfo &info, std::string &error);

/// Decodes into `out` (`channels` 1 or 3, HWC). `scaleDenominator` (1, 2, 4
/// or 8) shrinks a JPEG in the DCT to jpegScaledSize of each side; the other
/// formats ignore it. Warnings the decoder survives (libjpeg's corrupt-data
/// warnings, which PIL ignores too; libpng's) are accepted: `warning`, when
/// given, receives the first one with the name, or is cleared.
bool decodeImage(const uint8_t *data, size_t size, const std::string &name,
                 int64_t channels, int64_t scaleDenominator, Image &out,
                 std::string &error, std::string *warning = nullptr);

/// A lossless PNG of `image` (1 or 3 channels), for writing shards of
/// images held in memory (IDX, CIFAR).
bool encodePng(const Image &image, std::vector<uint8_t> &out, std::string &error);

/// The DCT scale for a JPEG whose views shrink it at least `shrink` times
/// (the least box side over the output size, over all views): the largest d
/// in {1, 2, 4, 8} with shrink / d >= 1 and d no more than the image's
/// shorter side, so no view is ever upsampled from the scaled image.
int64_t chooseJpegScale(int64_t width, int64_t height, double shrink);

/// The side a JPEG side of `size` pixels has at 1/scaleDenominator:
/// ceil(size / d), TurboJPEG's TJSCALED.
int64_t jpegScaledSize(int64_t size, int64_t scaleDenominator);

} // namespace kiln::data

#endif // KILN_RUNTIME_DATA_DECODE_H
