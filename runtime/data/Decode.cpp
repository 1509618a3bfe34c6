//===- Decode.cpp - JPEG, PNG and WebP bytes to an 8-bit image ------------===//
#include "runtime/data/Decode.h"

#include "runtime/data/ImageCodecs.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <exception>

namespace kiln::data {

namespace {

const uint8_t PngSignature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
// The IEND chunk: length 0, type, CRC.
const uint8_t PngEnd[12] = {0, 0, 0, 0, 'I', 'E', 'N', 'D', 0xAE, 0x42, 0x60, 0x82};

// "not a JPEG, PNG or WebP file (starts 47 49 46 38 39 61)": the first bytes
// name most other formats.
std::string unknownFormat(const uint8_t *data, size_t size,
                          const std::string &name) {
  std::string error = name + ": not a JPEG, PNG or WebP file (starts";
  for (size_t i = 0; i < std::min<size_t>(size, 8); ++i) {
    char hex[4];
    std::snprintf(hex, sizeof hex, " %02X", data[i]);
    error += hex;
  }
  return error + ")";
}

// A JPEG ends in the EOI marker FF D9; some writers pad with zero bytes.
bool jpegEnds(const uint8_t *data, size_t size) {
  while (size > 0 && data[size - 1] == 0)
    --size;
  return size >= 2 && data[size - 2] == 0xFF && data[size - 1] == 0xD9;
}

bool pngEnds(const uint8_t *data, size_t size) {
  return size >= sizeof PngEnd &&
         std::memcmp(data + size - sizeof PngEnd, PngEnd, sizeof PngEnd) == 0;
}

// The RIFF header's size counts the bytes after its first 8.
bool webpEnds(const uint8_t *data, size_t size) {
  uint64_t riff = uint64_t(data[4]) | uint64_t(data[5]) << 8 |
                  uint64_t(data[6]) << 16 | uint64_t(data[7]) << 24;
  return riff + 8 == size;
}

// The end check of probeImage: a file cut short misses its last marker.
bool checkEnd(ImageFormat format, const uint8_t *data, size_t size,
              const std::string &name, std::string &error) {
  switch (format) {
  case ImageFormat::Jpeg:
    if (jpegEnds(data, size))
      return true;
    error = name + ": truncated JPEG (no FF D9 end marker)";
    return false;
  case ImageFormat::Png:
    if (pngEnds(data, size))
      return true;
    error = name + ": truncated PNG (no IEND chunk at the end)";
    return false;
  case ImageFormat::Webp:
    if (webpEnds(data, size))
      return true;
    error = name + ": truncated WebP (RIFF size + 8 is not the file size " +
            std::to_string(size) + ")";
    return false;
  case ImageFormat::Unknown:
    break;
  }
  return false;
}

// Empty files and unknown magic, shared by probe and decode.
bool sniff(const uint8_t *data, size_t size, const std::string &name,
           ImageFormat &format, std::string &error) {
  if (size == 0) {
    error = name + ": empty file";
    return false;
  }
  format = sniffFormat(data, size);
  if (format == ImageFormat::Unknown) {
    error = unknownFormat(data, size, name);
    return false;
  }
  return true;
}

bool probe(const uint8_t *data, size_t size, const std::string &name,
           ImageInfo &info, std::string &error) {
  ImageFormat format;
  if (!sniff(data, size, name, format, error))
    return false;
  bool ok = format == ImageFormat::Jpeg  ? codec::probeJpeg(data, size, name, info, error)
            : format == ImageFormat::Png ? codec::probePng(data, size, name, info, error)
                                         : codec::probeWebp(data, size, name, info, error);
  info.format = format;
  return ok && codec::checkPixelCount(info.width, info.height, name, error) &&
         checkEnd(format, data, size, name, error);
}

bool decode(const uint8_t *data, size_t size, const std::string &name,
            int64_t channels, int64_t scaleDenominator, Image &out,
            std::string &error, std::string *warning) {
  if (channels != 1 && channels != 3) {
    error = name + ": cannot decode to " + std::to_string(channels) +
            " channels (1 or 3)";
    return false;
  }
  if (scaleDenominator != 1 && scaleDenominator != 2 &&
      scaleDenominator != 4 && scaleDenominator != 8) {
    error = name + ": cannot decode at scale 1/" +
            std::to_string(scaleDenominator) + " (1, 2, 4 or 8)";
    return false;
  }
  ImageFormat format;
  if (!sniff(data, size, name, format, error))
    return false;
  if (format == ImageFormat::Jpeg)
    return codec::decodeJpeg(data, size, name, channels, scaleDenominator, out,
                             error, warning);
  if (format == ImageFormat::Png)
    return codec::decodePng(data, size, name, channels, out, error, warning);
  return codec::decodeWebp(data, size, name, channels, out, error);
}

} // namespace

const char *formatName(ImageFormat format) {
  switch (format) {
  case ImageFormat::Jpeg:
    return "JPEG";
  case ImageFormat::Png:
    return "PNG";
  case ImageFormat::Webp:
    return "WebP";
  case ImageFormat::Unknown:
    break;
  }
  return "unknown";
}

ImageFormat sniffFormat(const uint8_t *data, size_t size) {
  if (size >= 3 && data[0] == 0xFF && data[1] == 0xD8 && data[2] == 0xFF)
    return ImageFormat::Jpeg;
  if (size >= sizeof PngSignature &&
      std::memcmp(data, PngSignature, sizeof PngSignature) == 0)
    return ImageFormat::Png;
  if (size >= 12 && std::memcmp(data, "RIFF", 4) == 0 &&
      std::memcmp(data + 8, "WEBP", 4) == 0)
    return ImageFormat::Webp;
  return ImageFormat::Unknown;
}

// The public entry points only add the guarantee that nothing throws (a
// std::bad_alloc on a huge image becomes an error like any other).
bool probeImage(const uint8_t *data, size_t size, const std::string &name,
                ImageInfo &info, std::string &error) {
  try {
    info = ImageInfo();
    return probe(data, size, name, info, error);
  } catch (const std::exception &e) {
    error = name + ": " + e.what();
    return false;
  }
}

bool decodeImage(const uint8_t *data, size_t size, const std::string &name,
                 int64_t channels, int64_t scaleDenominator, Image &out,
                 std::string &error, std::string *warning) {
  try {
    if (warning)
      warning->clear();
    return decode(data, size, name, channels, scaleDenominator, out, error,
                  warning);
  } catch (const std::exception &e) {
    error = name + ": " + e.what();
    return false;
  }
}

bool encodePng(const Image &image, std::vector<uint8_t> &out, std::string &error) {
  return codec::encodePng(image, out, error);
}

int64_t chooseJpegScale(int64_t width, int64_t height, double shrink) {
  int64_t d = 1;
  while (d < 8 && shrink / double(2 * d) >= 1 &&
         2 * d <= std::min(width, height))
    d *= 2;
  return d;
}

int64_t jpegScaledSize(int64_t size, int64_t scaleDenominator) {
  return (size + scaleDenominator - 1) / scaleDenominator;
}

namespace codec {

bool checkPixelCount(int64_t width, int64_t height, const std::string &name,
                     std::string &error) {
  const int64_t limit = 2 * 89478485; // 2 × PIL's Image.MAX_IMAGE_PIXELS
  if (width * height <= limit)
    return true;
  error = name + ": " + std::to_string(width) + "x" + std::to_string(height) +
          " pixels is over PIL's decompression-bomb limit of " +
          std::to_string(limit);
  return false;
}

void rgbToGray(Image &image) {
  uint8_t *p = image.pixels.data();
  const size_t count = size_t(image.height * image.width);
  // In place: pixel i is written at i, after its RGB at 3i has been read.
  for (size_t i = 0; i < count; ++i) {
    const uint8_t *rgb = p + 3 * i;
    p[i] = uint8_t((19595u * rgb[0] + 38470u * rgb[1] + 7471u * rgb[2] +
                    0x8000u) >> 16);
  }
  image.channels = 1;
  image.pixels.resize(count);
}

bool notBuiltIn(const std::string &name, const char *format,
                const char *package, std::string &error) {
  error = name + ": kiln was built without " + format +
          " support (apt-get install " + package + ", then rebuild kiln)";
  return false;
}

} // namespace codec

} // namespace kiln::data
