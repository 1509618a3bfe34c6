//===- JpegDecoder.cpp - JPEG through TurboJPEG, as PIL decodes it --------===//
//
// libjpeg-turbo is PIL's JPEG library too, and TurboJPEG's defaults are
// PIL's settings (accurate integer IDCT, fancy upsampling), so the RGB
// decode is bit-identical to `Image.open(f).convert("RGB")`. CMYK and YCCK
// files are decoded to CMYK and converted with PIL's formula (it assumes
// Adobe's inverted CMYK): R = C·K/255 rounded, and likewise G from M and B
// from Y. Grayscale output is L24 of the RGB decode, as convert("L"), not
// libjpeg's Y (up to 3 apart); a gray file is decoded to one channel
// directly, or replicated by libjpeg for three.
//
//===----------------------------------------------------------------------===//
#include "runtime/data/ImageCodecs.h"

#if KILN_HAVE_TURBOJPEG
#include <turbojpeg.h>

namespace kiln::data::codec {

namespace {

// A tjhandle is not thread-safe: one per thread, made on first use and
// destroyed at thread exit.
class Decompressor {
public:
  static Decompressor &forThread() {
    thread_local Decompressor decompressor;
    return decompressor;
  }
  Decompressor() = default;
  ~Decompressor() { reset(); }
  Decompressor(const Decompressor &) = delete;
  Decompressor &operator=(const Decompressor &) = delete;

  bool ready(const std::string &name, std::string &error) {
    if (!handle)
      handle = tjInitDecompress();
    if (handle)
      return true;
    error = name + ": cannot create a TurboJPEG decompressor: " +
            tjGetErrorStr2(nullptr);
    return false;
  }
  void reset() {
    if (handle)
      tjDestroy(handle);
    handle = nullptr;
  }

  tjhandle handle = nullptr;
};

struct JpegHeader {
  int width = 0, height = 0, subsampling = -1, colorspace = -1;
};

// tjDecompressHeader3 returns -1 for a libjpeg warning too (the fields are
// then set), and for a subsampling that TurboJPEG has no name for, which
// tjDecompress2 decodes all the same. It returns 0 without setting them for
// data that ends before a frame header (tables only, or cut short).
bool readHeader(Decompressor &decompressor, const uint8_t *data, size_t size,
                const std::string &name, JpegHeader &header,
                std::string &error) {
  if (!decompressor.ready(name, error))
    return false;
  tjhandle tj = decompressor.handle;
  const int rc = tjDecompressHeader3(tj, data, (unsigned long)size,
                                     &header.width, &header.height,
                                     &header.subsampling, &header.colorspace);
  const bool warned = tjGetErrorCode(tj) == TJERR_WARNING;
  if (header.width > 0 && header.height > 0 && header.colorspace >= 0 &&
      (rc == 0 || warned || header.subsampling < 0))
    return true;
  error = name + ": bad JPEG header: " +
          (rc == 0 && !warned ? "no image, only tables" : tjGetErrorStr2(tj));
  // After a libjpeg error TurboJPEG 2.1 returns without aborting the read,
  // and the handle's next header would continue from the bad one's state.
  decompressor.reset();
  return false;
}

// The policy after tjDecompress2 returns -1 (the image is complete when it
// was a warning). A fatal error is a bad file. PIL ignores libjpeg's
// warnings but raises on a truncated file, which libjpeg reports with the
// warning "Premature end of JPEG file". Other warnings are accepted.
bool acceptWarning(tjhandle tj, const std::string &name, std::string &error,
                   std::string *warning) {
  const std::string message = tjGetErrorStr2(tj);
  if (tjGetErrorCode(tj) == TJERR_FATAL) {
    error = name + ": bad JPEG: " + message;
    return false;
  }
  if (message.rfind("Premature end of JPEG file", 0) == 0) {
    error = name + ": truncated JPEG (" + message + ")";
    return false;
  }
  if (warning)
    *warning = name + ": JPEG warning: " + message;
  return true;
}

bool isCmyk(int colorspace) {
  return colorspace == TJCS_CMYK || colorspace == TJCS_YCCK;
}

// CMYK to RGB in place, libjpeg-turbo's cmyk_to_rgb and PIL's cmyk2rgb on
// its inverted CMYK: R = (uint8)(C·K/255.0 + 0.5). (C·K + 127)/255 is the
// same rounding, in integers (C·K/255 is never exactly n + 1/2).
void cmykToRgb(Image &image) {
  uint8_t *p = image.pixels.data();
  const size_t count = size_t(image.height * image.width);
  for (size_t i = 0; i < count; ++i) {
    const unsigned c = p[4 * i], m = p[4 * i + 1], y = p[4 * i + 2],
                   k = p[4 * i + 3];
    uint8_t *rgb = p + 3 * i; // never past pixel i's CMYK, all read above
    rgb[0] = uint8_t((c * k + 127) / 255);
    rgb[1] = uint8_t((m * k + 127) / 255);
    rgb[2] = uint8_t((y * k + 127) / 255);
  }
  image.channels = 3;
  image.pixels.resize(3 * count);
}

} // namespace

bool probeJpeg(const uint8_t *data, size_t size, const std::string &name,
               ImageInfo &info, std::string &error) {
  JpegHeader header;
  if (!readHeader(Decompressor::forThread(), data, size, name, header, error))
    return false;
  info.width = header.width;
  info.height = header.height;
  info.channels = header.colorspace == TJCS_GRAY ? 1
                  : isCmyk(header.colorspace)    ? 4
                                                 : 3;
  return true;
}

bool decodeJpeg(const uint8_t *data, size_t size, const std::string &name,
                int64_t channels, int64_t scaleDenominator, Image &out,
                std::string &error, std::string *warning) {
  Decompressor &decompressor = Decompressor::forThread();
  JpegHeader header;
  if (!readHeader(decompressor, data, size, name, header, error) ||
      !checkPixelCount(header.width, header.height, name, error))
    return false;
  tjhandle tj = decompressor.handle;
  const bool cmyk = isCmyk(header.colorspace);
  const int pixelFormat = cmyk ? TJPF_CMYK
                          : header.colorspace == TJCS_GRAY && channels == 1
                              ? TJPF_GRAY
                              : TJPF_RGB;
  // TurboJPEG takes the first of its factors (2/1 down to 1/8) whose size
  // fits the one asked for: ask for exactly TJSCALED at 1/d, or a size
  // rounded down gets a smaller factor (250x187 of 500x375 is 3/8).
  Image image(jpegScaledSize(header.height, scaleDenominator),
              jpegScaledSize(header.width, scaleDenominator),
              tjPixelSize[pixelFormat]);
  // TJFLAG_LIMITSCANS refuses progressive files of over 500 scans, a
  // denial of service otherwise.
  if (tjDecompress2(tj, data, (unsigned long)size, image.pixels.data(),
                    int(image.width), 0, int(image.height), pixelFormat,
                    TJFLAG_LIMITSCANS) != 0 &&
      !acceptWarning(tj, name, error, warning))
    return false;
  if (cmyk)
    cmykToRgb(image);
  if (channels == 1 && image.channels == 3)
    rgbToGray(image);
  out = std::move(image);
  return true;
}

} // namespace kiln::data::codec

#else // !KILN_HAVE_TURBOJPEG

namespace kiln::data::codec {

bool probeJpeg(const uint8_t *, size_t, const std::string &name, ImageInfo &,
               std::string &error) {
  return notBuiltIn(name, "JPEG", "libturbojpeg0-dev", error);
}

bool decodeJpeg(const uint8_t *, size_t, const std::string &name, int64_t,
                int64_t, Image &, std::string &error, std::string *) {
  return notBuiltIn(name, "JPEG", "libturbojpeg0-dev", error);
}

} // namespace kiln::data::codec

#endif // KILN_HAVE_TURBOJPEG
