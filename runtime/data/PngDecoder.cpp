//===- PngDecoder.cpp - PNG through libpng, as PIL decodes it -------------===//
//
// libpng's low-level API with the transforms that give PIL's
// `Image.open(f).convert("RGB")`: palettes, low bit depths and tRNS expanded
// (bit replication, as PIL's L;2 and L;4), 16 bits cut to the high byte,
// alpha dropped (convert("RGB") drops it; it does not composite), gray
// replicated for RGB, interlacing undone. No gamma or colour management:
// PIL ignores gAMA, sRGB and iCCP (libpng's simplified API does not, which
// is why it is not used). One PIL quirk is not copied: a 16-bit gray file
// is PIL mode "I", which convert("RGB") clips to nearly white; here it
// takes the high byte like every other 16-bit file. Grayscale output from
// colour is L24 of the RGB decode, as convert("L"), not png_set_rgb_to_gray.
//
// libpng reports errors by longjmp to the last setjmp. Every function that
// calls setjmp (readInfo, setTransforms, readRows) holds no C++ objects, and
// the callbacks between them and libpng only write to a trivial struct.
//
//===----------------------------------------------------------------------===//
#include "runtime/data/ImageCodecs.h"

#if KILN_HAVE_PNG
#include <png.h>

#include <cstdio>
#include <cstring>
#include <vector>

namespace kiln::data::codec {

namespace {

// What libpng's callbacks share with the decoder: the bytes, a cursor, and
// the messages.
struct PngSource {
  const uint8_t *data;
  size_t size, offset;
  bool truncated;    // a read went past the end of the file
  char error[128];   // libpng's error message
  char warning[128]; // the first warning, or ""
};

void readBytes(png_structp png, png_bytep out, size_t count) {
  auto *source = static_cast<PngSource *>(png_get_io_ptr(png));
  if (count > source->size - source->offset) {
    source->truncated = true;
    png_error(png, "read past the end of the file");
  }
  std::memcpy(out, source->data + source->offset, count);
  source->offset += count;
}

void onError(png_structp png, png_const_charp message) {
  auto *source = static_cast<PngSource *>(png_get_error_ptr(png));
  std::snprintf(source->error, sizeof source->error, "%s", message);
  png_longjmp(png, 1);
}

void onWarning(png_structp png, png_const_charp message) {
  auto *source = static_cast<PngSource *>(png_get_error_ptr(png));
  if (!source->warning[0])
    std::snprintf(source->warning, sizeof source->warning, "%s", message);
}

// libpng's read state over bytes in memory, destroyed with the reader.
class PngReader {
public:
  PngReader(const uint8_t *data, size_t size)
      : source{data, size, 0, false, "", ""} {
    png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &source, onError,
                                 onWarning);
    if (png)
      info = png_create_info_struct(png);
    if (!info)
      return;
    png_set_read_fn(png, &source, readBytes);
    // Only PIL's pixel limit applies, not libpng's default 1,000,000 a side.
    png_set_user_limits(png, 0x7fffffff, 0x7fffffff);
  }
  ~PngReader() { png_destroy_read_struct(&png, &info, nullptr); }
  PngReader(const PngReader &) = delete;
  PngReader &operator=(const PngReader &) = delete;

  bool created(const std::string &name, std::string &error) const {
    if (info)
      return true;
    error = name + ": cannot create a libpng reader";
    return false;
  }
  // "x.png: bad PNG header: IHDR: CRC error".
  bool fail(const std::string &name, const char *what,
            std::string &error) const {
    error = source.truncated
                ? name + ": truncated PNG (" + source.error + ")"
                : name + what + source.error;
    return false;
  }

  PngSource source;
  png_structp png = nullptr;
  png_infop info = nullptr;
};

// The signature and the chunks before the image data.
bool readInfo(png_structp png, png_infop info) {
  if (setjmp(png_jmpbuf(png)))
    return false;
  png_read_info(png, info);
  return true;
}

// 8-bit RGB, or 8-bit gray for a gray file unless `grayToRgb`.
bool setTransforms(png_structp png, png_infop info, bool grayToRgb) {
  if (setjmp(png_jmpbuf(png)))
    return false;
  png_set_expand(png);
  png_set_strip_16(png);
  png_set_strip_alpha(png);
  if (grayToRgb)
    png_set_gray_to_rgb(png);
  png_set_interlace_handling(png);
  png_read_update_info(png, info);
  return true;
}

// All passes into `rows`, then the chunks after the image data up to IEND
// (their CRCs, and the end of the compressed stream, are checked).
bool readRows(png_structp png, png_bytep *rows) {
  if (setjmp(png_jmpbuf(png)))
    return false;
  png_read_image(png, rows);
  png_read_end(png, nullptr);
  return true;
}

} // namespace

bool probePng(const uint8_t *data, size_t size, const std::string &name,
              ImageInfo &info, std::string &error) {
  PngReader reader(data, size);
  if (!reader.created(name, error))
    return false;
  if (!readInfo(reader.png, reader.info))
    return reader.fail(name, ": bad PNG header: ", error);
  info.width = png_get_image_width(reader.png, reader.info);
  info.height = png_get_image_height(reader.png, reader.info);
  info.channels = png_get_channels(reader.png, reader.info);
  if (png_get_color_type(reader.png, reader.info) == PNG_COLOR_TYPE_PALETTE)
    info.channels = png_get_valid(reader.png, reader.info, PNG_INFO_tRNS) ? 4 : 3;
  return true;
}

bool decodePng(const uint8_t *data, size_t size, const std::string &name,
               int64_t channels, Image &out, std::string &error,
               std::string *warning) {
  PngReader reader(data, size);
  if (!reader.created(name, error))
    return false;
  if (!readInfo(reader.png, reader.info))
    return reader.fail(name, ": bad PNG header: ", error);
  const int64_t width = png_get_image_width(reader.png, reader.info);
  const int64_t height = png_get_image_height(reader.png, reader.info);
  if (!checkPixelCount(width, height, name, error))
    return false;
  // A palette counts as colour (PNG_COLOR_TYPE_PALETTE has the colour bit).
  const bool colour =
      png_get_color_type(reader.png, reader.info) & PNG_COLOR_MASK_COLOR;
  if (!setTransforms(reader.png, reader.info, !colour && channels == 3))
    return reader.fail(name, ": bad PNG: ", error);
  // The transforms leave 8-bit rows of `decoded` channels; checked, as
  // libpng writes the rows without knowing the buffer.
  const int64_t decoded = colour ? 3 : channels;
  if (png_get_channels(reader.png, reader.info) != decoded ||
      png_get_rowbytes(reader.png, reader.info) != size_t(width * decoded)) {
    error = name + ": PNG rows are not 8-bit " + std::to_string(decoded) +
            "-channel after libpng's transforms";
    return false;
  }
  Image image(height, width, decoded);
  std::vector<png_bytep> rows(height);
  for (int64_t y = 0; y < height; ++y)
    rows[y] = image.row(y);
  if (!readRows(reader.png, rows.data()))
    return reader.fail(name, ": bad PNG: ", error);
  if (channels == 1 && image.channels == 3)
    rgbToGray(image);
  if (warning && reader.source.warning[0])
    *warning = name + ": PNG warning: " + reader.source.warning;
  out = std::move(image);
  return true;
}

bool encodePng(const Image &image, std::vector<uint8_t> &out, std::string &error) {
  png_image png{};
  png.version = PNG_IMAGE_VERSION;
  png.width = static_cast<png_uint_32>(image.width);
  png.height = static_cast<png_uint_32>(image.height);
  png.format = image.channels == 3 ? PNG_FORMAT_RGB : PNG_FORMAT_GRAY;
  png_alloc_size_t size = 0;
  // The first call sizes the output, the second writes it.
  if (png_image_write_to_memory(&png, nullptr, &size, 0, image.pixels.data(), 0, nullptr)) {
    out.resize(size);
    if (png_image_write_to_memory(&png, out.data(), &size, 0, image.pixels.data(), 0, nullptr)) {
      out.resize(size);
      return true;
    }
  }
  error = std::string("PNG encoding failed: ") + png.message;
  png_image_free(&png);
  return false;
}

} // namespace kiln::data::codec

#else // !KILN_HAVE_PNG

namespace kiln::data::codec {

bool probePng(const uint8_t *, size_t, const std::string &name, ImageInfo &,
              std::string &error) {
  return notBuiltIn(name, "PNG", "libpng-dev", error);
}

bool decodePng(const uint8_t *, size_t, const std::string &name, int64_t,
               Image &, std::string &error, std::string *) {
  return notBuiltIn(name, "PNG", "libpng-dev", error);
}

bool encodePng(const Image &, std::vector<uint8_t> &, std::string &error) {
  return notBuiltIn("an image", "PNG", "libpng-dev", error);
}

} // namespace kiln::data::codec

#endif // KILN_HAVE_PNG
