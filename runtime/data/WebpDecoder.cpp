//===- WebpDecoder.cpp - WebP through libwebp, as PIL decodes it ----------===//
//
// PIL uses the same libwebp, and libwebp's RGB output equals PIL's
// `Image.open(f).convert("RGB")` for lossy and lossless files, alpha
// dropped. The decode is WebPDecodeRGBInto's, through the advanced API only
// to get a status for the message. Animated files are refused (PIL would
// take the first frame through libwebpdemux). Grayscale output is L24 of
// the RGB decode, as convert("L").
//
//===----------------------------------------------------------------------===//
#include "runtime/data/ImageCodecs.h"

#if KILN_HAVE_WEBP
#include <webp/decode.h>

namespace kiln::data::codec {

namespace {

const char *statusText(VP8StatusCode status) {
  switch (status) {
  case VP8_STATUS_OUT_OF_MEMORY:
    return "out of memory";
  case VP8_STATUS_INVALID_PARAM:
    return "invalid parameter";
  case VP8_STATUS_BITSTREAM_ERROR:
    return "bitstream error";
  case VP8_STATUS_UNSUPPORTED_FEATURE:
    return "unsupported feature";
  case VP8_STATUS_NOT_ENOUGH_DATA:
    return "truncated (not enough data)";
  default:
    return "decoding stopped";
  }
}

bool readFeatures(const uint8_t *data, size_t size, const std::string &name,
                  WebPBitstreamFeatures &features, std::string &error) {
  VP8StatusCode status = WebPGetFeatures(data, size, &features);
  if (status != VP8_STATUS_OK) {
    error = name + ": bad WebP header: " + statusText(status);
    return false;
  }
  if (features.has_animation) {
    error = name + ": animated WebP is not supported";
    return false;
  }
  return true;
}

} // namespace

bool probeWebp(const uint8_t *data, size_t size, const std::string &name,
               ImageInfo &info, std::string &error) {
  WebPBitstreamFeatures features;
  if (!readFeatures(data, size, name, features, error))
    return false;
  info.width = features.width;
  info.height = features.height;
  info.channels = features.has_alpha ? 4 : 3;
  return true;
}

bool decodeWebp(const uint8_t *data, size_t size, const std::string &name,
                int64_t channels, Image &out, std::string &error) {
  WebPDecoderConfig config;
  if (!WebPInitDecoderConfig(&config)) {
    error = name + ": libwebp's decoder ABI does not match its header";
    return false;
  }
  if (!readFeatures(data, size, name, config.input, error) ||
      !checkPixelCount(config.input.width, config.input.height, name, error))
    return false;
  Image image(config.input.height, config.input.width, 3);
  config.output.colorspace = MODE_RGB;
  config.output.is_external_memory = 1;
  config.output.u.RGBA.rgba = image.pixels.data();
  config.output.u.RGBA.stride = int(image.width * 3);
  config.output.u.RGBA.size = image.pixels.size();
  VP8StatusCode status = WebPDecode(data, size, &config);
  WebPFreeDecBuffer(&config.output); // frees nothing of ours; the API asks it
  if (status != VP8_STATUS_OK) {
    error = name + ": bad WebP: " + statusText(status);
    return false;
  }
  if (channels == 1)
    rgbToGray(image);
  out = std::move(image);
  return true;
}

} // namespace kiln::data::codec

#else // !KILN_HAVE_WEBP

namespace kiln::data::codec {

bool probeWebp(const uint8_t *, size_t, const std::string &name, ImageInfo &,
               std::string &error) {
  return notBuiltIn(name, "WebP", "libwebp-dev", error);
}

bool decodeWebp(const uint8_t *, size_t, const std::string &name, int64_t,
                Image &, std::string &error) {
  return notBuiltIn(name, "WebP", "libwebp-dev", error);
}

} // namespace kiln::data::codec

#endif // KILN_HAVE_WEBP
