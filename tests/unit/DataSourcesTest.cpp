//===- DataSourcesTest.cpp - CIFAR files, image folders, the loader --------===//
//
// Sources against the layouts they read (records written here, folders
// made here), and the loader's promises: the same batches for any number
// of loader threads and ranks, unreadable files skipped and counted.
//
//===----------------------------------------------------------------------===//
#include "runtime/data/Cifar.h"
#include "runtime/data/Dataset.h"
#include "runtime/data/ImageFolder.h"
#include "runtime/data/Loader.h"

#include "TempDir.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <cmath>
#include <fstream>
#include <set>
#ifdef KILN_HAVE_PNG
#include <png.h>
#endif
#ifdef KILN_HAVE_TURBOJPEG
#include <turbojpeg.h>
#endif
#include <unistd.h>

using namespace kiln::data;
using kiln::test::TempDir;
namespace fs = std::filesystem;

namespace {


void writeBytes(const std::string &path, const std::vector<uint8_t> &bytes) {
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char *>(bytes.data()),
                                              bytes.size());
}

/// `count` CIFAR records with `labelBytes` label bytes; pixel p of plane c
/// of record r is (r·7 + c·3 + p) mod 256, labels r mod 10 (and r mod 100).
std::vector<uint8_t> cifarRecords(int count, int labelBytes) {
  std::vector<uint8_t> f;
  for (int r = 0; r < count; ++r) {
    if (labelBytes == 2)
      f.push_back(static_cast<uint8_t>(r % 20));
    f.push_back(static_cast<uint8_t>(labelBytes == 2 ? r % 100 : r % 10));
    for (int c = 0; c < 3; ++c)
      for (int p = 0; p < 1024; ++p)
        f.push_back(static_cast<uint8_t>(r * 7 + c * 3 + p));
  }
  return f;
}

std::map<std::string, ViewSpec> identityView(int64_t size, int64_t channels) {
  ViewSpec v;
  v.size = size;
  v.channels = channels;
  return {{"x", v}};
}

} // namespace

TEST(DataSources, CifarRecordsBecomeInterleavedRgbWithTheirLabels) {
  TempDir dir;
  writeBytes(dir / "data_batch_1.bin", cifarRecords(3, 1));
  ArraySource s;
  std::string error;
  ASSERT_TRUE(readCifarFile(dir / "data_batch_1.bin", CifarLabels::Fine, s, error)) << error;
  ASSERT_EQ(s.size(), 3);
  EXPECT_EQ(s.classes(), 10);
  for (int r = 0; r < 3; ++r) {
    EXPECT_EQ(s.labels[r], r % 10);
    for (int p : {0, 31, 1023})
      for (int c = 0; c < 3; ++c)
        EXPECT_EQ(s.pixels(r)[p * 3 + c], static_cast<uint8_t>(r * 7 + c * 3 + p));
  }
}

TEST(DataSources, Cifar100TakesTheFineOrCoarseLabel) {
  TempDir dir;
  writeBytes(dir / "train.bin", cifarRecords(25, 2));
  for (auto [which, expect] : {std::pair{CifarLabels::Fine, 24}, {CifarLabels::Coarse, 4}}) {
    ArraySource s;
    std::string error;
    ASSERT_TRUE(readCifarFile(dir / "train.bin", which, s, error)) << error;
    EXPECT_EQ(s.labels[24], expect);
    EXPECT_EQ(s.classes(), which == CifarLabels::Fine ? 100 : 20);
  }
}

TEST(DataSources, CifarFileOfTheWrongSizeIsAnErrorNamingIt) {
  TempDir dir;
  std::vector<uint8_t> f = cifarRecords(2, 1);
  f.pop_back();
  writeBytes(dir / "data_batch_1.bin", f);
  ArraySource s;
  std::string error;
  EXPECT_FALSE(readCifarFile(dir / "data_batch_1.bin", CifarLabels::Fine, s, error));
  EXPECT_NE(error.find(dir / "data_batch_1.bin"), std::string::npos) << error;
  EXPECT_NE(error.find("3073"), std::string::npos) << error;
}

/// torchvision's order: classes sorted, a class's folders by full path
/// (so "x" before "x y" before "x/z": a prefix first, then ' ' < '/'),
/// file names sorted; kiln skips
/// hidden entries and non-image files, and takes extensions in any case.
TEST(DataSources, ImageFolderListsInTorchvisionsOrder) {
  TempDir dir;
  for (const char *f : {"b/2.png", "b/1.JPG", "a/x/z/3.webp", "a/x y/2.jpeg", "a/x/1.png",
                        "a/0.png", "a/.hidden.png", "a/notes.txt", ".git/0.png", "a/.cache/9.png",
                        "a10/0.png", "a2/0.png"})
    writeBytes(dir / f, {1});
  FileSource s;
  std::vector<std::string> classes, warnings;
  std::string error;
  ASSERT_TRUE(listImageFolder(dir.path.string(), s, classes, warnings, error)) << error;
  EXPECT_EQ(classes, (std::vector<std::string>{"a", "a10", "a2", "b"}));
  std::vector<std::string> want = {"a/0.png", "a/x/1.png", "a/x y/2.jpeg", "a/x/z/3.webp",
                                   "a10/0.png", "a2/0.png", "b/1.JPG", "b/2.png"};
  std::vector<int32_t> labels = {0, 0, 0, 0, 1, 2, 3, 3};
  ASSERT_EQ(s.size(), static_cast<int64_t>(want.size()));
  for (size_t i = 0; i < want.size(); ++i) {
    EXPECT_EQ(s.paths[i], dir / want[i]) << i;
    EXPECT_EQ(s.labels[i], labels[i]) << i;
  }
}

TEST(DataSources, ImageFolderErrorsNameTheFolder) {
  TempDir dir;
  FileSource s;
  std::vector<std::string> classes, warnings;
  std::string error;
  EXPECT_FALSE(listImageFolder(dir / "missing", s, classes, warnings, error));
  EXPECT_NE(error.find("not a folder"), std::string::npos) << error;
  writeBytes(dir / "loose.png", {1});
  EXPECT_FALSE(listImageFolder(dir.path.string(), s, classes, warnings, error));
  EXPECT_NE(error.find("no class folders"), std::string::npos) << error;
  writeBytes(dir / "cat/readme.txt", {1});
  writeBytes(dir / "cat/old.bmp", {1});
  EXPECT_FALSE(listImageFolder(dir.path.string(), s, classes, warnings, error));
  EXPECT_NE(error.find("class 'cat' has no image"), std::string::npos) << error;
  writeBytes(dir / "cat/ok.png", {1});
  warnings.clear();
  EXPECT_TRUE(listImageFolder(dir.path.string(), s, classes, warnings, error)) << error;
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_NE(warnings[0].find("1 .bmp files skipped"), std::string::npos) << warnings[0];
}

TEST(DataSources, OpenTellsTheKindByContent) {
  TempDir cifar, folders;
  writeBytes(cifar / "data_batch_1.bin", cifarRecords(4, 1));
  writeBytes(cifar / "test_batch.bin", cifarRecords(2, 1));
  for (const char *f : {"train/a/0.png", "train/b/0.png", "val/a/0.png", "val/b/0.png"})
    writeBytes(folders / f, {1});
  Dataset d;
  std::vector<std::string> warnings;
  std::string error;
  ASSERT_TRUE(openDataset({"", cifar.path.string(), "", CifarLabels::Fine}, d, warnings, error)) << error;
  EXPECT_EQ(d.kind, "cifar");
  EXPECT_EQ(d.train->size(), 4);
  EXPECT_EQ(d.test->size(), 2);
  ASSERT_TRUE(openDataset({"", folders.path.string(), "", CifarLabels::Fine}, d, warnings, error)) << error;
  EXPECT_EQ(d.kind, "image_folder");
  EXPECT_EQ(d.train->name(1), folders / "train/b/0.png");
  EXPECT_EQ(d.test->name(0), folders / "val/a/0.png");
  EXPECT_FALSE(openDataset({"", folders / "none", "", CifarLabels::Fine}, d, warnings, error));
  EXPECT_NE(error.find("no such file or folder"), std::string::npos) << error;
}

/// Batches depend on (seed, epoch, step) only: 1 or 3 loader threads, and
/// 2 ranks' halves side by side, give the same rows.
TEST(Loader, SameBatchesForAnyThreadCountAndWorldSize) {
  Dataset d = syntheticDataset(96, 8, 3);
  ViewSpec v;
  std::string error;
  nlohmann::ordered_json data = {
      {"views", {{"x", {{"size", 20}, {"scale", {0.3, 1.0}}, {"flip", 0.5}, {"count", 2}}}}}};
  ASSERT_TRUE(parseView(data, "x", v, error)) << error;
  auto batchOf = [&](int threads, int rank, int ranks, int64_t step) {
    LoaderOptions o;
    o.seed = 5;
    o.threads = threads;
    o.rank = rank;
    o.ranks = ranks;
    Loader l(d.train, {{"x", v}}, 16 / ranks, o);
    l.get(0, 0);
    return l.get(1, step); // a jump, then the one after the jump
  };
  Batch one = batchOf(1, 0, 1, 2), three = batchOf(3, 0, 1, 2);
  EXPECT_EQ(one.views["x"], three.views["x"]);
  EXPECT_EQ(one.labels, three.labels);
  Batch r0 = batchOf(2, 0, 2, 2), r1 = batchOf(2, 1, 2, 2);
  int64_t per = v.floats();
  for (int64_t c = 0; c < 2; ++c) // copy-major rows: copy c of sample i at c·batch + i
    for (int64_t i = 0; i < 16; ++i) {
      const Batch &half = i < 8 ? r0 : r1;
      std::vector<float> want(&one.views["x"][(c * 16 + i) * per],
                              &one.views["x"][(c * 16 + i + 1) * per]);
      std::vector<float> got(&half.views.at("x")[(c * 8 + i % 8) * per],
                             &half.views.at("x")[(c * 8 + i % 8 + 1) * per]);
      EXPECT_EQ(want, got) << "copy " << c << " sample " << i;
    }
}

/// Evaluation reads in order and keeps the last partial batch.
TEST(Loader, EvaluationKeepsTheLastPartialBatch) {
  Dataset d = syntheticDataset(8, 10, 3);
  LoaderOptions o;
  o.evaluation = true;
  Loader l(d.test, identityView(28, 1), 4, o);
  ASSERT_EQ(l.stepsPerEpoch(), 3);
  Batch last = l.get(0, 2);
  EXPECT_EQ(last.count, 2);
  EXPECT_EQ(last.labels[1], d.test->labels[9]);
  const auto &a = static_cast<const ArraySource &>(*d.test);
  EXPECT_EQ(last.views["x"][784 + 100], a.pixels(9)[100] / 255.0f);
  EXPECT_EQ(last.views["x"][2 * 784 + 100], 0.0f); // padding
}

#ifdef KILN_HAVE_PNG
namespace {

void writePng(const std::string &path, const uint8_t *pixels, int h, int w, int channels) {
  fs::create_directories(fs::path(path).parent_path());
  png_image image{};
  image.version = PNG_IMAGE_VERSION;
  image.width = w;
  image.height = h;
  image.format = channels == 3 ? PNG_FORMAT_RGB : PNG_FORMAT_GRAY;
  ASSERT_TRUE(png_image_write_to_file(&image, path.c_str(), 0, pixels, 0, nullptr))
      << image.message;
}

} // namespace

/// The same images as an IDX-style array and as a folder of PNGs decode
/// to the same pixels, so every view of them is the same; a corrupt file
/// in the folder is skipped with a warning, counted, and the next image
/// takes its place.
TEST(Loader, PngFolderMatchesTheArrayAndSkipsACorruptFile) {
  Dataset d = syntheticDataset(12, 1, 9);
  const auto &a = static_cast<const ArraySource &>(*d.train);
  TempDir dir;
  for (int64_t i = 0; i < a.size(); ++i) // names sort in index order within a class
    writePng(dir / ("c" + std::to_string(a.labels[i]) + "/" + std::to_string(100 + i) + ".png"),
             a.pixels(i), 28, 28, 1);
  Dataset f;
  std::vector<std::string> warnings;
  std::string error;
  ASSERT_TRUE(openDataset({"", dir.path.string(), "", CifarLabels::Fine}, f, warnings, error)) << error;
  ASSERT_EQ(f.train->size(), a.size());
  std::set<std::string> present; // class folders, numbered in sorted order
  for (int32_t l : a.labels)
    present.insert("c" + std::to_string(l));
  std::vector<std::string> classes(present.begin(), present.end());
  for (int64_t i = 0; i < f.train->size(); ++i) {
    std::string name = fs::path(f.train->name(i)).stem().string();
    int64_t original = std::stoll(name) - 100;
    Sample s;
    ASSERT_TRUE(f.train->fetch(i, s, error)) << error;
    EXPECT_EQ(classes[s.label], "c" + std::to_string(a.labels[original]));
  }
  // Sample by sample through the loader: the folder's i-th image is the
  // array's `original`-th; in evaluation order both are unshuffled.
  LoaderOptions o;
  o.evaluation = true;
  Loader fromFolder(f.train, identityView(28, 3), f.train->size(), o);
  Batch b = fromFolder.get(0, 0);
  for (int64_t i = 0; i < f.train->size(); ++i) {
    int64_t original = std::stoll(fs::path(f.train->name(i)).stem().string()) - 100;
    for (int64_t c = 0; c < 3; ++c) // gray replicated to RGB
      for (int64_t p : {0, 300, 783})
        ASSERT_EQ(b.views["x"][(i * 3 + c) * 784 + p], a.pixels(original)[p] / 255.0f);
  }
  EXPECT_EQ(fromFolder.skipped(), 0);

  writeBytes(f.train->name(0), {0xFF, 0xD8, 0xFF, 0x00, 0x17});
  Loader broken(f.train, identityView(28, 1), f.train->size(), o);
  testing::internal::CaptureStderr();
  Batch c = broken.get(0, 0);
  std::string said = testing::internal::GetCapturedStderr();
  EXPECT_NE(said.find(f.train->name(0)), std::string::npos) << said;
  EXPECT_EQ(broken.skipped(), 1);
  EXPECT_EQ(c.count, f.train->size());
  EXPECT_EQ(std::vector<float>(&c.views["x"][0], &c.views["x"][784]),
            std::vector<float>(&b.views["x"][3 * 784], &b.views["x"][4 * 784]))
      << "the next image takes the corrupt one's place (its first channel)";
}

/// CIFAR records and the same images as RGB PNGs in class folders give
/// the same views (the colour 8-bit chain, a resized crop).
TEST(Loader, CifarRecordsMatchThePngFolderOfTheirImages) {
  TempDir dir;
  writeBytes(dir / "cifar/data_batch_1.bin", cifarRecords(20, 1));
  Dataset c;
  std::vector<std::string> warnings;
  std::string error;
  ASSERT_TRUE(openDataset({"", dir / "cifar", "", CifarLabels::Fine}, c, warnings, error)) << error;
  const auto &a = static_cast<const ArraySource &>(*c.train);
  for (int64_t i = 0; i < a.size(); ++i) // class folders c0..c9, names in index order
    writePng(dir / ("png/c" + std::to_string(a.labels[i]) + "/" + std::to_string(100 + i) + ".png"),
             a.pixels(i), 32, 32, 3);
  Dataset f;
  ASSERT_TRUE(openDataset({"", dir / "png", "", CifarLabels::Fine}, f, warnings, error)) << error;
  ViewSpec v;
  v.channels = 3;
  nlohmann::ordered_json data = {
      {"views", {{"x", {{"size", 24}, {"scale", {0.5, 1.0}}, {"interpolation", "bicubic"}}}}}};
  ASSERT_TRUE(parseView(data, "x", v, error)) << error;
  LoaderOptions o;
  o.evaluation = true;
  Batch fromCifar = Loader(c.train, {{"x", v}}, 20, o).get(0, 0);
  Batch fromPng = Loader(f.train, {{"x", v}}, 20, o).get(0, 0);
  // Folder sample i is CIFAR record `original`; views are keyed by the
  // sample index, so compare each against the record's view drawn with
  // the folder's key: the same crop from the same pixels.
  for (int64_t i = 0; i < 20; ++i) {
    int64_t original = std::stoll(fs::path(f.train->name(i)).stem().string()) - 100;
    Image image(32, 32, 3);
    std::copy(a.pixels(original), a.pixels(original + 1), image.pixels.begin());
    std::vector<float> want(v.floats());
    Random r(0, 0, i); // the loader's key of copy 0 of view 0, epoch 0, sample i
    ASSERT_TRUE(drawAndApplyView(v, image, r, want.data()));
    std::vector<float> got(&fromPng.views["x"][i * v.floats()], &fromPng.views["x"][(i + 1) * v.floats()]);
    EXPECT_EQ(got, want) << "sample " << i;
  }
  std::vector<float> record0(&fromCifar.views["x"][0], &fromCifar.views["x"][v.floats()]);
  Image first(32, 32, 3);
  std::copy(a.pixels(0), a.pixels(1), first.pixels.begin());
  std::vector<float> want0(v.floats());
  Random r0(0, 0, 0);
  ASSERT_TRUE(drawAndApplyView(v, first, r0, want0.data()));
  EXPECT_EQ(record0, want0);
}

/// An image too small for a padded crop of the view is a bad sample (named,
/// skipped), not a crash.
TEST(Loader, AnImageTooSmallForAPaddedCropIsSkipped) {
  TempDir dir;
  std::vector<uint8_t> small(10 * 10, 99), big(28 * 28, 7);
  writePng(dir / "a/0.png", small.data(), 10, 10, 1);
  writePng(dir / "a/1.png", big.data(), 28, 28, 1);
  Dataset d;
  std::vector<std::string> warnings;
  std::string error;
  ASSERT_TRUE(openDataset({"", dir.path.string(), "", CifarLabels::Fine}, d, warnings, error)) << error;
  ViewSpec v;
  nlohmann::ordered_json data = {{"views", {{"x", {{"size", 28}, {"pad", 2}}}}}};
  ASSERT_TRUE(parseView(data, "x", v, error)) << error;
  LoaderOptions o;
  o.evaluation = true;
  Loader l(d.train, {{"x", v}}, 2, o);
  testing::internal::CaptureStderr();
  Batch b = l.get(0, 0);
  std::string said = testing::internal::GetCapturedStderr();
  EXPECT_NE(said.find(dir / "a/0.png" + ": the image is 10x10, too small"), std::string::npos) << said;
  EXPECT_EQ(l.skipped(), 1);
  EXPECT_EQ(b.views["x"][0], b.views["x"][784]) << "the next image took its place";
}
#endif

#if defined(KILN_HAVE_TURBOJPEG) && defined(KILN_HAVE_PNG)
/// A JPEG whose views all shrink it 8 times or more is decoded at 1/8 in
/// the DCT; its crop boxes scale by exactly 1/d, so a view of a smooth
/// image stays within JPEG's and resampling's error of the same view of a
/// lossless copy decoded at full size (a box off by a pixel or two of the
/// reduced image would show on the gradient).
TEST(Loader, AJpegDecodedSmallerGivesTheSameViewWithinItsError) {
  const int w = 1001, h = 751; // sides that 8 does not divide: the reduced image is ceil(side/8)
  std::vector<uint8_t> rgb(w * h * 3);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
      for (int c = 0; c < 3; ++c) // waves of 256 pixels: a shifted box shows
        rgb[(y * w + x) * 3 + c] = static_cast<uint8_t>(
            128 + 100 * std::sin(6.283185 * (c == 0 ? x : c == 1 ? y : x + y) / 256));
  tjhandle tj = tjInitCompress();
  unsigned char *jpeg = nullptr;
  unsigned long size = 0;
  ASSERT_EQ(tjCompress2(tj, rgb.data(), w, 0, h, TJPF_RGB, &jpeg, &size, TJSAMP_444, 95, 0), 0);
  TempDir dir;
  writeBytes(dir / "jpeg/a/0.jpg", std::vector<uint8_t>(jpeg, jpeg + size));
  tjFree(jpeg);
  tjDestroy(tj);
  writePng(dir / "png/a/0.png", rgb.data(), h, w, 3);
  ViewSpec v;
  std::string error;
  nlohmann::ordered_json data = {
      {"views", {{"x", {{"size", 32}, {"scale", {0.2, 0.3}}, {"interpolation", "bicubic"}}}}}};
  v.channels = 3;
  ASSERT_TRUE(parseView(data, "x", v, error)) << error;
  std::vector<float> views[2];
  for (int k = 0; k < 2; ++k) {
    Dataset d;
    std::vector<std::string> warnings;
    ASSERT_TRUE(openDataset({"", dir / (k ? "png" : "jpeg"), "", CifarLabels::Fine}, d, warnings,
                            error)) << error;
    LoaderOptions o;
    o.seed = 11;
    Loader l(d.train, {{"x", v}}, 1, o);
    views[k] = l.get(2, 0).views["x"];
  }
  double worst = 0, mean = 0;
  for (size_t i = 0; i < views[0].size(); ++i) {
    double e = std::fabs(views[0][i] - views[1][i]);
    worst = std::max(worst, e);
    mean += e / views[0].size();
  }
  EXPECT_LT(worst, 6 / 255.0);
  EXPECT_LT(mean, 1.5 / 255.0);
}
#endif
