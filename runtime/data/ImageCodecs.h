//===- ImageCodecs.h - the per-format decoders behind Decode.h --*- C++ -*-===//
//
// Private to Decode.cpp and the three decoder files (JpegDecoder.cpp,
// PngDecoder.cpp, WebpDecoder.cpp). Each decoder file defines its two
// functions whether or not its library was found; without it they return
// notBuiltIn's error. Decode.cpp has already checked the arguments, the
// magic and that the file is not empty.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_RUNTIME_DATA_IMAGECODECS_H
#define KILN_RUNTIME_DATA_IMAGECODECS_H

#include "runtime/data/Decode.h"

namespace kiln::data::codec {

/// Header fields only: height, width and the stored channels.
bool probeJpeg(const uint8_t *data, size_t size, const std::string &name,
               ImageInfo &info, std::string &error);
bool probePng(const uint8_t *data, size_t size, const std::string &name,
              ImageInfo &info, std::string &error);
bool probeWebp(const uint8_t *data, size_t size, const std::string &name,
               ImageInfo &info, std::string &error);

/// A decode to `channels` (1 or 3); only the JPEG one scales.
bool decodeJpeg(const uint8_t *data, size_t size, const std::string &name,
                int64_t channels, int64_t scaleDenominator, Image &out,
                std::string &error, std::string *warning);
bool decodePng(const uint8_t *data, size_t size, const std::string &name,
               int64_t channels, Image &out, std::string &error,
               std::string *warning);
bool decodeWebp(const uint8_t *data, size_t size, const std::string &name,
                int64_t channels, Image &out, std::string &error);

/// False, with an error, above PIL's decompression-bomb limit (Image.open
/// raises DecompressionBombError over 2 × MAX_IMAGE_PIXELS pixels). Called
/// before any pixel buffer is allocated.
bool checkPixelCount(int64_t width, int64_t height, const std::string &name,
                     std::string &error);

/// A lossless PNG of `image` (1 or 3 channels, 8 bits).
bool encodePng(const Image &image, std::vector<uint8_t> &out, std::string &error);

/// An RGB image to L in place: PIL's convert("L"), L24 =
/// (19595 R + 38470 G + 7471 B + 0x8000) >> 16.
void rgbToGray(Image &image);

/// The error for a format whose library kiln was built without.
bool notBuiltIn(const std::string &name, const char *format,
                const char *package, std::string &error);

} // namespace kiln::data::codec

#endif // KILN_RUNTIME_DATA_IMAGECODECS_H
