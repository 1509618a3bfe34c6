//===- ShardStreamTest.cpp - training and evaluation from tar shards ------===//
//
// Shards written here (PNGs of the synthetic set with their classes): the
// stream gives the same global batches at world sizes 1 and 2 and for any
// number of loader threads, a jump (a resume) lands where an uninterrupted
// run is, evaluation reads every sample once in order, and a sample that
// does not decode is skipped with a warning.
//
//===----------------------------------------------------------------------===//
#include "runtime/data/Dataset.h"
#include "runtime/data/Decode.h"
#include "runtime/data/Loader.h"
#include "runtime/data/TarWriter.h"

#include "TempDir.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <unistd.h>

using namespace kiln::data;
namespace fs = std::filesystem;

namespace {

#if KILN_HAVE_ARCHIVE && KILN_HAVE_PNG
/// `shards` shards of the synthetic set's first `count` images, in order,
/// as kiln data convert names them; the last image's file is garbage when
/// `corruptLast`.
struct Shards {
  kiln::test::TempDir dir;
  Dataset images = syntheticDataset(96, 1, 4);

  Shards(int shards, int count, bool corruptLast = false) {
    const auto &a = static_cast<const ArraySource &>(*images.train);
    std::string error;
    for (int s = 0; s < shards; ++s) {
      TarWriter tar;
      char name[64];
      std::snprintf(name, sizeof name, "/train-%06d.tar", s);
      EXPECT_TRUE(tar.open(dir.path.string() + name, error)) << error;
      for (int i = s * count / shards; i < (s + 1) * count / shards; ++i) {
        Image im(28, 28, 1);
        std::copy(a.pixels(i), a.pixels(i + 1), im.pixels.begin());
        std::vector<uint8_t> png;
        EXPECT_TRUE(encodePng(im, png, error)) << error;
        if (corruptLast && i == count - 1)
          png.resize(png.size() / 2);
        std::string key = std::to_string(1000 + i), cls = std::to_string(a.labels[i]);
        EXPECT_TRUE(tar.add(key + ".png", png, error)) << error;
        EXPECT_TRUE(tar.add(key + ".cls", {cls.begin(), cls.end()}, error)) << error;
      }
      EXPECT_TRUE(tar.close(error)) << error;
    }
  }

  Dataset open(DataSpec spec = {}) const {
    spec.path = dir.path.string();
    Dataset d;
    std::vector<std::string> warnings;
    std::string error;
    EXPECT_TRUE(openDataset(spec, d, warnings, error)) << error;
    return d;
  }
};

ViewSpec cropView() {
  ViewSpec v;
  std::string error;
  nlohmann::ordered_json data = {{"views", {{"x", {{"size", 20}, {"scale", {0.3, 1.0}}}}}}};
  EXPECT_TRUE(parseView(data, "x", v, error)) << error;
  return v;
}

Batch batchOf(const Dataset &d, int threads, int rank, int ranks, int64_t epoch, int64_t step) {
  LoaderOptions o;
  o.seed = 3;
  o.threads = threads;
  o.rank = rank;
  o.ranks = ranks;
  std::string error;
  auto l = makeTrainLoader(d, {{"x", cropView()}}, 16 / ranks, o, error);
  EXPECT_TRUE(l) << error;
  return l->get(epoch, step);
}
#endif

} // namespace

#if KILN_HAVE_ARCHIVE && KILN_HAVE_PNG
TEST(ShardStream, SameGlobalBatchAtWorldSizes1And2AndAnyThreadCount) {
  Shards s(4, 96);
  Dataset d = s.open();
  ASSERT_EQ(d.kind, "shards");
  ASSERT_EQ(d.trainSamples, 96);
  // Step 7 is in the second epoch (96 / 16 = 6 steps) and the second pass.
  Batch one = batchOf(d, 1, 0, 1, 1, 1), three = batchOf(d, 3, 0, 1, 1, 1);
  EXPECT_EQ(one.views["x"], three.views["x"]);
  EXPECT_EQ(one.labels, three.labels);
  Batch r0 = batchOf(d, 2, 0, 2, 1, 1), r1 = batchOf(d, 2, 1, 2, 1, 1);
  std::vector<float> joined = r0.views["x"];
  joined.insert(joined.end(), r1.views["x"].begin(), r1.views["x"].end());
  EXPECT_EQ(one.views["x"], joined);
  std::vector<int32_t> labels = r0.labels;
  labels.insert(labels.end(), r1.labels.begin(), r1.labels.end());
  EXPECT_EQ(one.labels, labels);
}

/// Read step by step, or jumped to (a resume), step 8 is the same;
/// without a shuffle buffer a pass over the shards gives every sample once
/// (a buffer mixes samples of the next pass in).
TEST(ShardStream, AJumpLandsWhereTheStreamIsAndPassesCoverEverySample) {
  Shards s(4, 96);
  DataSpec spec;
  spec.shuffleBuffer = 0;
  Dataset d = s.open(spec);
  LoaderOptions o;
  o.seed = 3;
  std::string error;
  ViewSpec plain;
  plain.size = 28;
  auto walked = makeTrainLoader(d, {{"x", plain}}, 16, o, error);
  ASSERT_TRUE(walked) << error;
  std::map<std::vector<float>, int> seen;
  Batch walkedTo;
  for (int64_t g = 0; g <= 8; ++g) {
    walkedTo = walked->get(g / 6, g % 6);
    for (int64_t i = 0; i < 16 && g < 6; ++i)
      ++seen[std::vector<float>(&walkedTo.views["x"][i * 784], &walkedTo.views["x"][(i + 1) * 784])];
  }
  EXPECT_EQ(seen.size(), 96u) << "the first pass gives each of the 96 images once";
  auto jumped = makeTrainLoader(d, {{"x", plain}}, 16, o, error);
  EXPECT_EQ(jumped->get(1, 2).views["x"], walkedTo.views["x"]);
}

TEST(ShardStream, EvaluationReadsEverySampleOnceInOrder) {
  Shards s(3, 50);
  Dataset d = s.open();
  ViewSpec plain;
  plain.size = 28;
  LoaderOptions o;
  auto l = makeEvalLoader(d, false, {{"x", plain}}, 16, o);
  const auto &a = static_cast<const ArraySource &>(*s.images.train);
  int64_t n = 0;
  for (int64_t step = 0;; ++step) {
    Batch b = l->get(0, step);
    if (b.count == 0)
      break;
    for (int64_t i = 0; i < b.count; ++i, ++n) {
      EXPECT_EQ(b.labels[i], a.labels[n]);
      EXPECT_EQ(b.views["x"][i * 784 + 400], a.pixels(n)[400] / 255.0f) << n;
    }
  }
  EXPECT_EQ(n, 50);
}

TEST(ShardStream, ASampleThatDoesNotDecodeIsSkippedWithAWarning) {
  Shards s(2, 32, /*corruptLast=*/true);
  Dataset d = s.open();
  ViewSpec plain;
  plain.size = 28;
  LoaderOptions o;
  auto l = makeEvalLoader(d, false, {{"x", plain}}, 32, o);
  testing::internal::CaptureStderr();
  Batch b = l->get(0, 0);
  std::string said = testing::internal::GetCapturedStderr();
  EXPECT_NE(said.find("train-000001.tar:1031.png"), std::string::npos) << said;
  EXPECT_EQ(l->skipped(), 1);
  EXPECT_EQ(b.count, 32);
}

/// Shards whose samples all lack a class give no sample: training stops
/// with an error instead of reading them forever.
TEST(ShardStream, ShardsWithoutAUsableSampleAreAnErrorNotAHang) {
  kiln::test::TempDir dir;
  std::string error;
  TarWriter tar;
  ASSERT_TRUE(tar.open(dir / "train-000000.tar", error)) << error;
  ASSERT_TRUE(tar.add("0.png", {1, 2, 3}, error)) << error;
  ASSERT_TRUE(tar.close(error)) << error;
  DataSpec spec;
  spec.path = dir.path.string();
  Dataset d;
  std::vector<std::string> warnings;
  ASSERT_TRUE(openDataset(spec, d, warnings, error)) << error;
  LoaderOptions o;
  ViewSpec plain;
  auto l = makeTrainLoader(d, {{"x", plain}}, 1, o, error);
  ASSERT_TRUE(l) << error;
  testing::internal::CaptureStderr();
  Batch b = l->get(0, 0);
  testing::internal::GetCapturedStderr();
  EXPECT_NE(b.error.find("without a usable sample"), std::string::npos) << b.error;
}

TEST(ShardStream, LanesThatCannotSplitTheBatchAreAnError) {
  Shards s(3, 48);
  DataSpec spec;
  spec.lanes = 3;
  Dataset d = s.open(spec);
  LoaderOptions o;
  o.ranks = 2;
  std::string error;
  ViewSpec plain;
  EXPECT_FALSE(makeTrainLoader(d, {{"x", plain}}, 8, o, error));
  EXPECT_NE(error.find("cannot be read as 3 lanes"), std::string::npos) << error;
}
#else
TEST(ShardStream, NeedsLibarchiveAndLibpng) {
  GTEST_SKIP() << "built without libarchive or libpng (apt-get install libarchive-dev libpng-dev)";
}
#endif
