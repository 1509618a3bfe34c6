//===- DecodeTest.cpp - JPEG, PNG and WebP decoding -----------------------===//
//
// Test images are made here with the libraries' own encoders. Lossless
// formats must decode to exactly the encoded pixels as PIL's convert("RGB")
// would give them; JPEG is compared with TurboJPEG's own decode and the
// formulas PIL applies. tests/data/check-decode.py compares with PIL itself.
//
//===----------------------------------------------------------------------===//
#include "runtime/data/Decode.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <csetjmp>
#include <thread>

#if KILN_HAVE_TURBOJPEG
#include <turbojpeg.h>
#endif
#if KILN_HAVE_PNG
#include <png.h>
#endif
#if KILN_HAVE_WEBP
#include <webp/decode.h>
#include <webp/encode.h>
#endif

using namespace kiln::data;

namespace {

using Bytes = std::vector<uint8_t>;

// The helpers below serve the formats' tests, some of which a build without
// a library leaves out.

// A test pattern with every value in each channel, smooth enough for JPEG.
[[maybe_unused]] Bytes pattern(int width, int height, int channels) {
  Bytes p(size_t(width) * height * channels);
  for (int y = 0; y < height; ++y)
    for (int x = 0; x < width; ++x)
      for (int c = 0; c < channels; ++c)
        p[(size_t(y) * width + x) * channels + c] =
            uint8_t(c == 0   ? x * 255 / (width - 1)
                    : c == 1 ? y * 255 / (height - 1)
                    : c == 2 ? 255 - (x + y) * 255 / (width + height - 2)
                             : 1 + (x * 7 + y * 3) % 255);
  return p;
}

// PIL's convert("L").
uint8_t l24(const uint8_t *rgb) {
  return uint8_t((19595 * rgb[0] + 38470 * rgb[1] + 7471 * rgb[2] + 0x8000) >> 16);
}

// The first `keep` of `channels` interleaved channels.
[[maybe_unused]] Bytes keepChannels(const Bytes &pixels, int channels, int keep) {
  Bytes out;
  for (size_t i = 0; i < pixels.size(); i += channels)
    out.insert(out.end(), pixels.begin() + i, pixels.begin() + i + keep);
  return out;
}

[[maybe_unused]] Bytes grayOf(const Bytes &rgb) {
  Bytes out;
  for (size_t i = 0; i < rgb.size(); i += 3)
    out.push_back(l24(&rgb[i]));
  return out;
}

[[maybe_unused]] Bytes replicate(const Bytes &gray) {
  Bytes out;
  for (uint8_t v : gray)
    out.insert(out.end(), {v, v, v});
  return out;
}

[[maybe_unused]] int maxDifference(const Bytes &a, const Bytes &b) {
  EXPECT_EQ(a.size(), b.size());
  int most = 0;
  for (size_t i = 0; i < std::min(a.size(), b.size()); ++i)
    most = std::max(most, std::abs(int(a[i]) - int(b[i])));
  return most;
}

[[maybe_unused]] Image decoded(const Bytes &file, int64_t channels, int64_t scale = 1,
              const std::string &name = "t") {
  Image image;
  std::string error;
  EXPECT_TRUE(decodeImage(file.data(), file.size(), name, channels, scale,
                          image, error))
      << error;
  return image;
}

[[maybe_unused]] ImageInfo probed(const Bytes &file) {
  ImageInfo info;
  std::string error;
  EXPECT_TRUE(probeImage(file.data(), file.size(), "t", info, error)) << error;
  return info;
}

// Both probe and decode fail, naming the file, and the probe's error
// contains `probeText`.
void expectBad(const Bytes &file, const std::string &probeText) {
  std::string error;
  ImageInfo info;
  EXPECT_FALSE(probeImage(file.data(), file.size(), "bad/x.img", info, error));
  EXPECT_EQ(error.rfind("bad/x.img: ", 0), 0u) << error;
  EXPECT_NE(error.find(probeText), std::string::npos) << error;
  Image image;
  EXPECT_FALSE(decodeImage(file.data(), file.size(), "bad/x.img", 3, 1, image,
                           error));
  EXPECT_EQ(error.rfind("bad/x.img: ", 0), 0u) << error;
}

[[maybe_unused]] Bytes firstHalf(const Bytes &file) {
  return Bytes(file.begin(), file.begin() + file.size() / 2);
}

#if KILN_HAVE_TURBOJPEG
Bytes encodeJpeg(const Bytes &pixels, int width, int height, int pixelFormat,
                 int subsampling) {
  tjhandle tj = tjInitCompress();
  unsigned char *buffer = nullptr;
  unsigned long size = 0;
  int rc = tjCompress2(tj, pixels.data(), width, 0, height, pixelFormat,
                       &buffer, &size, subsampling, 92, 0);
  EXPECT_EQ(rc, 0) << tjGetErrorStr2(tj);
  Bytes out(buffer, buffer + (rc == 0 ? size : 0));
  tjFree(buffer);
  tjDestroy(tj);
  return out;
}

// TurboJPEG's own decode at width x height.
Bytes turboDecode(const Bytes &file, int width, int height, int pixelFormat) {
  tjhandle tj = tjInitDecompress();
  Bytes out(size_t(width) * height * tjPixelSize[pixelFormat]);
  EXPECT_EQ(tjDecompress2(tj, file.data(), file.size(), out.data(), width, 0,
                          height, pixelFormat, 0),
            0)
      << tjGetErrorStr2(tj);
  tjDestroy(tj);
  return out;
}
#endif

#if KILN_HAVE_PNG
// 8-bit files through libpng's simplified writer (format PNG_FORMAT_*).
Bytes encodePng(const Bytes &pixels, int width, int height, uint32_t format) {
  png_image image{};
  image.version = PNG_IMAGE_VERSION;
  image.width = width;
  image.height = height;
  image.format = format;
  png_alloc_size_t size = 0;
  EXPECT_TRUE(png_image_write_to_memory(&image, nullptr, &size, 0,
                                        pixels.data(), 0, nullptr));
  Bytes out(size);
  EXPECT_TRUE(png_image_write_to_memory(&image, out.data(), &size, 0,
                                        pixels.data(), 0, nullptr))
      << image.message;
  out.resize(size);
  return out;
}

struct PngLayout {
  int width, height, bitDepth, colorType;
  bool interlaced = false;
  std::vector<png_color> palette = {};
  Bytes transparency = {}; // tRNS for a palette
};

void appendBytes(png_structp png, png_bytep data, size_t size) {
  auto *out = static_cast<Bytes *>(png_get_io_ptr(png));
  out->insert(out->end(), data, data + size);
}

// Any layout through the low-level writer; `rows` holds the packed rows
// (16-bit samples big-endian, low bit depths packed MSB first).
Bytes encodePngRows(const PngLayout &layout, const Bytes &rows) {
  Bytes out;
  png_structp png =
      png_create_write_struct(PNG_LIBPNG_VER_STRING, nullptr, nullptr, nullptr);
  png_infop info = png_create_info_struct(png);
  if (setjmp(png_jmpbuf(png))) {
    png_destroy_write_struct(&png, &info);
    ADD_FAILURE() << "libpng could not write the test file";
    return {};
  }
  png_set_write_fn(png, &out, appendBytes, nullptr);
  png_set_IHDR(png, info, layout.width, layout.height, layout.bitDepth,
               layout.colorType,
               layout.interlaced ? PNG_INTERLACE_ADAM7 : PNG_INTERLACE_NONE,
               PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  if (!layout.palette.empty())
    png_set_PLTE(png, info, layout.palette.data(), int(layout.palette.size()));
  if (!layout.transparency.empty())
    png_set_tRNS(png, info, layout.transparency.data(),
                 int(layout.transparency.size()), nullptr);
  png_write_info(png, info);
  const size_t stride = rows.size() / layout.height;
  std::vector<png_bytep> pointers;
  for (int y = 0; y < layout.height; ++y)
    pointers.push_back(const_cast<png_bytep>(rows.data() + y * stride));
  png_write_image(png, pointers.data());
  png_write_end(png, nullptr);
  png_destroy_write_struct(&png, &info);
  return out;
}
#endif

#if KILN_HAVE_WEBP
Bytes fromWebpEncoder(uint8_t *buffer, size_t size) {
  EXPECT_GT(size, 0u);
  Bytes out(buffer, buffer + size);
  WebPFree(buffer);
  return out;
}
#endif

// ---------------------------------------------------------------------------

TEST(Decode, ChooseJpegScale) {
  EXPECT_EQ(chooseJpegScale(500, 375, 1.0), 1);
  EXPECT_EQ(chooseJpegScale(500, 375, 1.99), 1);
  EXPECT_EQ(chooseJpegScale(500, 375, 2.0), 2);
  EXPECT_EQ(chooseJpegScale(500, 375, 3.99), 2);
  EXPECT_EQ(chooseJpegScale(500, 375, 4.0), 4);
  EXPECT_EQ(chooseJpegScale(500, 375, 7.99), 4);
  EXPECT_EQ(chooseJpegScale(500, 375, 8.0), 8);
  EXPECT_EQ(chooseJpegScale(500, 375, 100.0), 8);
  EXPECT_EQ(chooseJpegScale(500, 375, std::nan("")), 1);
  EXPECT_EQ(chooseJpegScale(500, 6, 100.0), 4); // d never over the shorter side
  // TJSCALED: ceil, the exact size to ask TurboJPEG for.
  EXPECT_EQ(jpegScaledSize(500, 2), 250);
  EXPECT_EQ(jpegScaledSize(375, 2), 188);
  EXPECT_EQ(jpegScaledSize(375, 8), 47);
  EXPECT_EQ(jpegScaledSize(375, 1), 375);
}

TEST(Decode, BadArgumentsEmptyAndUnknownFiles) {
  Image image;
  std::string error;
  const Bytes gif = {'G', 'I', 'F', '8', '9', 'a', 1, 0, 1, 0};
  EXPECT_FALSE(decodeImage(gif.data(), gif.size(), "a.png", 2, 1, image, error));
  EXPECT_EQ(error, "a.png: cannot decode to 2 channels (1 or 3)");
  EXPECT_FALSE(decodeImage(gif.data(), gif.size(), "a.png", 3, 3, image, error));
  EXPECT_EQ(error, "a.png: cannot decode at scale 1/3 (1, 2, 4 or 8)");
  EXPECT_EQ(sniffFormat(gif.data(), gif.size()), ImageFormat::Unknown);
  expectBad(gif, "not a JPEG, PNG or WebP file (starts 47 49 46 38 39 61 01 00)");
  expectBad({}, "empty file");
  const Bytes text = {'h', 'e', 'l', 'l', 'o'};
  expectBad(text, "not a JPEG, PNG or WebP file");
  // The magic alone, then garbage.
  expectBad({0xFF, 0xD8, 0xFF, 'g', 'a', 'r', 'b', 'a', 'g', 'e'}, "JPEG");
  expectBad({0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n', 'g', 'a', 'r', 'b'},
            "PNG");
  expectBad({'R', 'I', 'F', 'F', 4, 0, 0, 0, 'W', 'E', 'B', 'P'}, "WebP");
}

#if KILN_HAVE_TURBOJPEG

TEST(Decode, JpegRgbAndGray) {
  const int w = 61, h = 45; // partial MCUs on both sides
  const Bytes rgb = pattern(w, h, 3);
  for (int subsampling : {TJSAMP_444, TJSAMP_420}) {
    const Bytes file = encodeJpeg(rgb, w, h, TJPF_RGB, subsampling);
    ImageInfo info = probed(file);
    EXPECT_EQ(info.format, ImageFormat::Jpeg);
    EXPECT_EQ(info.width, w);
    EXPECT_EQ(info.height, h);
    EXPECT_EQ(info.channels, 3);
    Image image = decoded(file, 3);
    ASSERT_EQ(image.width, w);
    ASSERT_EQ(image.height, h);
    ASSERT_EQ(image.channels, 3);
    EXPECT_EQ(image.pixels, turboDecode(file, w, h, TJPF_RGB));
    EXPECT_LE(maxDifference(image.pixels, rgb), 16) << subsampling;
    // Gray is L24 of the RGB decode, not libjpeg's Y.
    Image gray = decoded(file, 1);
    ASSERT_EQ(gray.channels, 1);
    EXPECT_EQ(gray.pixels, grayOf(image.pixels));
  }
}

TEST(Decode, JpegScaledHasTjscaledSize) {
  const int w = 99, h = 75;
  const Bytes file = encodeJpeg(pattern(w, h, 3), w, h, TJPF_RGB, TJSAMP_420);
  const Image full = decoded(file, 3);
  for (int d : {2, 4, 8}) {
    Image image = decoded(file, 3, d);
    const int sw = (w + d - 1) / d, sh = (h + d - 1) / d;
    ASSERT_EQ(image.width, sw) << d;
    ASSERT_EQ(image.height, sh) << d;
    EXPECT_EQ(image.pixels, turboDecode(file, sw, sh, TJPF_RGB)) << d;
    // Close to the full decode averaged over d x d blocks (whole ones).
    double total = 0;
    int count = 0;
    for (int y = 0; y < h / d; ++y)
      for (int x = 0; x < w / d; ++x)
        for (int c = 0; c < 3; ++c) {
          double sum = 0;
          for (int i = 0; i < d; ++i)
            for (int j = 0; j < d; ++j)
              sum += full.at(y * d + i, x * d + j, c);
          total += std::abs(sum / (d * d) - image.at(y, x, c));
          ++count;
        }
    EXPECT_LT(total / count, 2.0) << d;
    Image gray = decoded(file, 1, d);
    EXPECT_EQ(gray.pixels, grayOf(image.pixels)) << d;
  }
}

TEST(Decode, GrayJpeg) {
  const int w = 40, h = 30;
  const Bytes gray = pattern(w, h, 1);
  const Bytes file = encodeJpeg(gray, w, h, TJPF_GRAY, TJSAMP_GRAY);
  EXPECT_EQ(probed(file).channels, 1);
  const Image one = decoded(file, 1);
  ASSERT_EQ(one.channels, 1);
  EXPECT_EQ(one.pixels, turboDecode(file, w, h, TJPF_GRAY));
  EXPECT_LE(maxDifference(one.pixels, gray), 8);
  EXPECT_EQ(decoded(file, 3).pixels, replicate(one.pixels));
}

TEST(Decode, CmykJpegUsesPilFormula) {
  const int w = 32, h = 24;
  const Bytes file =
      encodeJpeg(pattern(w, h, 4), w, h, TJPF_CMYK, TJSAMP_444); // YCCK
  EXPECT_EQ(probed(file).channels, 4);
  const Bytes cmyk = turboDecode(file, w, h, TJPF_CMYK);
  Bytes rgb;
  for (size_t i = 0; i < cmyk.size(); i += 4)
    for (int c = 0; c < 3; ++c)
      rgb.push_back(uint8_t(cmyk[i + c] * cmyk[i + 3] / 255.0 + 0.5));
  EXPECT_EQ(decoded(file, 3).pixels, rgb);
  EXPECT_EQ(decoded(file, 1).pixels, grayOf(rgb));
}

TEST(Decode, JpegTruncation) {
  const int w = 256, h = 192; // half the file is in the scan
  const Bytes file = encodeJpeg(pattern(w, h, 3), w, h, TJPF_RGB, TJSAMP_420);
  // Trailing zero bytes after FF D9 are fine.
  Bytes padded = file;
  padded.insert(padded.end(), 5, 0);
  EXPECT_EQ(probed(padded).width, w);
  // Cut before FF D9: the probe sees no end marker; the decode gets libjpeg's
  // "Premature end of JPEG file", which PIL fails on too.
  const Bytes half = firstHalf(file);
  expectBad(half, "truncated JPEG (no FF D9 end marker)");
  Image image;
  std::string error;
  EXPECT_FALSE(decodeImage(half.data(), half.size(), "d/h.jpg", 3, 1, image, error));
  EXPECT_EQ(error, "d/h.jpg: truncated JPEG (Premature end of JPEG file)");
  // Cut inside the header (in the quantization tables).
  expectBad(Bytes(file.begin(), file.begin() + 40),
            "bad JPEG header: Premature end of JPEG file");
}

// A corrupt-data warning: the decode is accepted and the warning reported.
TEST(Decode, JpegWarningIsAccepted) {
  const int w = 64, h = 48;
  Bytes file = encodeJpeg(pattern(w, h, 3), w, h, TJPF_RGB, TJSAMP_420);
  file.insert(file.end() - 2, 32, 0x12); // extraneous bytes before EOI
  Image image;
  std::string error, warning;
  ASSERT_TRUE(decodeImage(file.data(), file.size(), "w.jpg", 3, 1, image, error,
                          &warning))
      << error;
  EXPECT_EQ(warning.rfind("w.jpg: JPEG warning: Corrupt JPEG data", 0), 0u)
      << warning;
}

// TurboJPEG names only its own subsamplings; libjpeg decodes others, so the
// probe must not refuse them (Cr sampled 2x1 with luma 2x2 here).
TEST(Decode, JpegSubsamplingTurboJpegCannotName) {
  const int w = 32, h = 32;
  Bytes file = encodeJpeg(pattern(w, h, 3), w, h, TJPF_RGB, TJSAMP_420);
  size_t sof = 2;
  while (!(file[sof] == 0xFF && file[sof + 1] == 0xC0))
    sof += 2 + (file[sof + 2] << 8 | file[sof + 3]);
  ASSERT_EQ(file[sof + 9], 3);        // components
  ASSERT_EQ(file[sof + 17], 0x11);    // Cr: 1x1
  file[sof + 17] = 0x21;
  ImageInfo info = probed(file);
  EXPECT_EQ(info.width, w);
  EXPECT_EQ(info.channels, 3);
}

// Each thread has its own TurboJPEG handle, and a bad file (which leaves a
// handle mid-header) does not spoil the next decode on that thread.
TEST(Decode, JpegOnManyThreads) {
  const int w = 80, h = 60;
  const Bytes file = encodeJpeg(pattern(w, h, 3), w, h, TJPF_RGB, TJSAMP_420);
  const Bytes bad = {0xFF, 0xD8, 0xFF, 'g', 'a', 'r', 'b', 'a', 'g', 'e'};
  const Bytes reference = decoded(file, 3).pixels;
  std::atomic<int> wrong{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&] {
      for (int i = 0; i < 20; ++i) {
        Image image;
        std::string error;
        if (decodeImage(bad.data(), bad.size(), "bad", 3, 1, image, error) ||
            !decodeImage(file.data(), file.size(), "t", 3, 1, image, error) ||
            image.pixels != reference)
          ++wrong;
      }
    });
  for (std::thread &thread : threads)
    thread.join();
  EXPECT_EQ(wrong, 0);
}

#else

TEST(Decode, JpegNeedsTurboJpeg) {
  const Bytes file = {0xFF, 0xD8, 0xFF, 0xE0, 0, 0x10, 0xFF, 0xD9};
  expectBad(file, "apt-get install libturbojpeg0-dev");
}

#endif // KILN_HAVE_TURBOJPEG

#if KILN_HAVE_PNG

TEST(Decode, PngEightBitExact) {
  const int w = 23, h = 17;
  const Bytes rgba = pattern(w, h, 4), rgb = keepChannels(rgba, 4, 3);
  const Bytes gray = keepChannels(rgba, 4, 1), ga = keepChannels(rgba, 4, 2);
  struct Case {
    uint32_t format;
    Bytes pixels, asRgb;
    int stored;
  };
  for (const Case &c :
       {Case{PNG_FORMAT_RGB, rgb, rgb, 3}, Case{PNG_FORMAT_RGBA, rgba, rgb, 4},
        Case{PNG_FORMAT_GRAY, gray, replicate(gray), 1},
        Case{PNG_FORMAT_GA, ga, replicate(gray), 2}}) {
    const Bytes file = encodePng(c.pixels, w, h, c.format);
    ImageInfo info = probed(file);
    EXPECT_EQ(info.format, ImageFormat::Png);
    EXPECT_EQ(info.width, w);
    EXPECT_EQ(info.height, h);
    EXPECT_EQ(info.channels, c.stored);
    Image image = decoded(file, 3, 4); // the scale is ignored
    ASSERT_EQ(image.width, w);
    EXPECT_EQ(image.pixels, c.asRgb) << c.format;
    EXPECT_EQ(decoded(file, 1).pixels, grayOf(c.asRgb)) << c.format;
  }
}

TEST(Decode, PngSixteenBitKeepsHighByte) {
  const int w = 16, h = 8;
  Bytes rows, expected;
  for (int i = 0; i < w * h * 3; ++i) {
    // 0x00FF -> 0 and 0x80FF -> 128, as PIL (rounding would give 1 and 129).
    const uint16_t v = uint16_t(i * 257 * 7 % 65536) | 0xFF;
    rows.insert(rows.end(), {uint8_t(v >> 8), uint8_t(v)});
    expected.push_back(uint8_t(v >> 8));
  }
  const Bytes rgb16 =
      encodePngRows({w, h, 16, PNG_COLOR_TYPE_RGB}, rows);
  EXPECT_EQ(decoded(rgb16, 3).pixels, expected);
  // 16-bit gray: the high byte too (PIL's mode "I" would clip to 255).
  const Bytes gray16 = encodePngRows(
      {w, h * 3, 16, PNG_COLOR_TYPE_GRAY}, rows);
  EXPECT_EQ(decoded(gray16, 1).pixels, expected);
}

TEST(Decode, PngPaletteLowDepthInterlaced) {
  const int w = 13, h = 9;
  // Palette with transparency: the colours, alpha dropped.
  std::vector<png_color> palette;
  for (int i = 0; i < 16; ++i)
    palette.push_back({uint8_t(i * 16), uint8_t(255 - i * 9), uint8_t(i * i)});
  Bytes indices, expected;
  for (int i = 0; i < w * h; ++i) {
    indices.push_back(uint8_t(i * 5 % 16));
    const png_color &p = palette[i * 5 % 16];
    expected.insert(expected.end(), {p.red, p.green, p.blue});
  }
  PngLayout layout{w, h, 8, PNG_COLOR_TYPE_PALETTE};
  layout.palette = palette;
  layout.transparency = {0, 128, 255, 7};
  const Bytes paletted = encodePngRows(layout, indices);
  EXPECT_EQ(probed(paletted).channels, 4);
  EXPECT_EQ(decoded(paletted, 3).pixels, expected);
  EXPECT_EQ(decoded(paletted, 1).pixels, grayOf(expected));
  // 2-bit gray: values 0..3 become 0, 85, 170, 255 (PIL's L;2).
  Bytes packed, gray;
  for (int y = 0; y < h; ++y) {
    uint8_t byte = 0;
    for (int x = 0; x < 16; ++x) { // 4 bytes a row, the last one padded
      const int v = (x + y) % 4;
      byte = uint8_t(byte << 2 | v);
      if (x % 4 == 3)
        packed.push_back(byte);
      if (x < w)
        gray.push_back(uint8_t(v * 85));
    }
  }
  const Bytes twoBit = encodePngRows({w, h, 2, PNG_COLOR_TYPE_GRAY}, packed);
  EXPECT_EQ(decoded(twoBit, 1).pixels, gray);
  EXPECT_EQ(decoded(twoBit, 3).pixels, replicate(gray));
  // Adam7.
  const Bytes rgb = pattern(w, h, 3);
  PngLayout interlaced{w, h, 8, PNG_COLOR_TYPE_RGB};
  interlaced.interlaced = true;
  EXPECT_EQ(decoded(encodePngRows(interlaced, rgb), 3).pixels, rgb);
}

TEST(Decode, PngTruncationAndContentSniffing) {
  const int w = 20, h = 10;
  const Bytes file = encodePng(pattern(w, h, 3), w, h, PNG_FORMAT_RGB);
  // PNG bytes named .jpg: the content decides.
  Image image = decoded(file, 3, 1, "photo.jpg");
  EXPECT_EQ(image.pixels, pattern(w, h, 3));
  EXPECT_EQ(sniffFormat(file.data(), file.size()), ImageFormat::Png);
  const Bytes half = firstHalf(file);
  expectBad(half, "truncated PNG (no IEND chunk at the end)");
  std::string error;
  EXPECT_FALSE(decodeImage(half.data(), half.size(), "h.png", 3, 1, image, error));
  EXPECT_EQ(error, "h.png: truncated PNG (read past the end of the file)");
  // No IEND: the probe says so (PIL would load it; the rule is strict).
  expectBad(Bytes(file.begin(), file.end() - 12), "no IEND chunk");
}

// A header asking for more pixels than PIL allows is refused before any
// pixel is allocated.
TEST(Decode, PngOverPilsPixelLimit) {
  auto chunk = [](Bytes &out, const char *type, const Bytes &data) {
    const size_t begin = out.size() + 4;
    for (int s = 24; s >= 0; s -= 8)
      out.push_back(uint8_t(data.size() >> s));
    out.insert(out.end(), type, type + 4);
    out.insert(out.end(), data.begin(), data.end());
    uint32_t crc = 0xFFFFFFFFu;
    for (size_t i = begin; i < out.size(); ++i) {
      crc ^= out[i];
      for (int k = 0; k < 8; ++k)
        crc = crc >> 1 ^ (0xEDB88320u & (0u - (crc & 1)));
    }
    crc ^= 0xFFFFFFFFu;
    for (int s = 24; s >= 0; s -= 8)
      out.push_back(uint8_t(crc >> s));
  };
  Bytes file = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
  chunk(file, "IHDR", {0, 0, 0x4E, 0x20, 0, 0, 0x4E, 0x20, 8, 2, 0, 0, 0}); // 20000²
  chunk(file, "IDAT", {});
  chunk(file, "IEND", {});
  expectBad(file, "20000x20000 pixels is over PIL's decompression-bomb limit");
}

#else

TEST(Decode, PngNeedsLibpng) {
  expectBad({0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n', 0},
            "apt-get install libpng-dev");
}

#endif // KILN_HAVE_PNG

#if KILN_HAVE_WEBP

TEST(Decode, WebpLosslessExactLossyAsLibwebp) {
  const int w = 30, h = 20;
  const Bytes rgba = pattern(w, h, 4), rgb = keepChannels(rgba, 4, 3);
  uint8_t *buffer = nullptr;
  const Bytes lossless = fromWebpEncoder(
      buffer, WebPEncodeLosslessRGB(rgb.data(), w, h, w * 3, &buffer));
  ImageInfo info = probed(lossless);
  EXPECT_EQ(info.format, ImageFormat::Webp);
  EXPECT_EQ(info.width, w);
  EXPECT_EQ(info.height, h);
  EXPECT_EQ(info.channels, 3);
  EXPECT_EQ(decoded(lossless, 3).pixels, rgb);
  EXPECT_EQ(decoded(lossless, 1).pixels, grayOf(rgb));
  // Alpha is dropped (every alpha is nonzero: the encoder may change the
  // colour of fully transparent pixels).
  const Bytes withAlpha = fromWebpEncoder(
      buffer, WebPEncodeLosslessRGBA(rgba.data(), w, h, w * 4, &buffer));
  EXPECT_EQ(probed(withAlpha).channels, 4);
  EXPECT_EQ(decoded(withAlpha, 3).pixels, rgb);
  // Lossy: libwebp's own RGB decode.
  const Bytes lossy = fromWebpEncoder(
      buffer, WebPEncodeRGB(rgb.data(), w, h, w * 3, 90, &buffer));
  int dw = 0, dh = 0;
  uint8_t *reference = WebPDecodeRGB(lossy.data(), lossy.size(), &dw, &dh);
  ASSERT_NE(reference, nullptr);
  const Image image = decoded(lossy, 3);
  EXPECT_EQ(image.pixels, Bytes(reference, reference + size_t(w) * h * 3));
  WebPFree(reference);
  EXPECT_LE(maxDifference(image.pixels, rgb), 40);
  // Truncation: the RIFF size tells the probe; the decoder runs out.
  const Bytes half = firstHalf(lossless);
  expectBad(half, "truncated WebP (RIFF size + 8 is not the file size");
  Image out;
  std::string error;
  EXPECT_FALSE(decodeImage(half.data(), half.size(), "h.webp", 3, 1, out, error));
  EXPECT_EQ(error.rfind("h.webp: bad WebP: ", 0), 0u) << error;
}

#else

TEST(Decode, WebpNeedsLibwebp) {
  expectBad({'R', 'I', 'F', 'F', 4, 0, 0, 0, 'W', 'E', 'B', 'P'},
            "apt-get install libwebp-dev");
}

#endif // KILN_HAVE_WEBP

} // namespace
