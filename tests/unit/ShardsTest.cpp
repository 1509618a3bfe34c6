//===- ShardsTest.cpp - brace patterns, tars, WebDataset shards, shuffle --===//
#include "runtime/data/BraceExpand.h"
#include "runtime/data/ShuffleBuffer.h"
#include "runtime/data/TarReader.h"
#include "runtime/data/TarWriter.h"
#include "runtime/data/WebDataset.h"

#include "TempDir.h"

#include <gtest/gtest.h>
#if KILN_HAVE_ARCHIVE
#include <archive.h>
#include <archive_entry.h>
#endif

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <unistd.h>

using namespace kiln::data;
using kiln::test::TempDir;
namespace fs = std::filesystem;

namespace {

using Names = std::vector<std::string>;

Names expand(const std::string &pattern) {
  Names out;
  std::string error;
  EXPECT_TRUE(braceExpand(pattern, out, error)) << pattern << ": " << error;
  return out;
}

std::string expandError(const std::string &pattern) {
  Names out;
  std::string error;
  EXPECT_FALSE(braceExpand(pattern, out, error)) << pattern;
  return error;
}


void writeFile(const std::string &path, const std::string &contents) {
  std::ofstream(path, std::ios::binary) << contents;
}

// BraceExpand ----------------------------------------------------------------

TEST(BraceExpand, ShardRangeIsZeroPadded) {
  Names names = expand("train-{000000..000127}.tar");
  ASSERT_EQ(names.size(), 128u);
  EXPECT_EQ(names.front(), "train-000000.tar");
  EXPECT_EQ(names[9], "train-000009.tar");
  EXPECT_EQ(names.back(), "train-000127.tar");
  for (const std::string &name : names)
    EXPECT_EQ(name.size(), std::string("train-000000.tar").size()) << name;
  EXPECT_EQ(expand("{07..10}"), (Names{"07", "08", "09", "10"}));
  EXPECT_EQ(expand("{7..010}"), (Names{"007", "008", "009", "010"}));
  EXPECT_EQ(expand("{0..2}"), (Names{"0", "1", "2"}));
  EXPECT_EQ(expand("{-05..5..5}"), (Names{"-05", "000", "005"}));
}

TEST(BraceExpand, RangesCountDownAndStep) {
  EXPECT_EQ(expand("{3..1}"), (Names{"3", "2", "1"}));
  EXPECT_EQ(expand("{2..-1}"), (Names{"2", "1", "0", "-1"}));
  EXPECT_EQ(expand("{0..10..5}"), (Names{"0", "5", "10"}));
  EXPECT_EQ(expand("{5..1..2}"), (Names{"5", "3", "1"}));
  EXPECT_EQ(expand("{1..4..0}"), (Names{"1", "2", "3", "4"}));
  EXPECT_EQ(expand("{1..1}"), (Names{"1"}));
}

TEST(BraceExpand, LetterRanges) {
  EXPECT_EQ(expand("{a..c}"), (Names{"a", "b", "c"}));
  EXPECT_EQ(expand("{e..a..2}"), (Names{"e", "c", "a"}));
  EXPECT_EQ(expand("{Z..a}"), (Names{"Z", "a"}));
  EXPECT_EQ(expand("{1..a}"), (Names{"{1..a}"}));
}

TEST(BraceExpand, ListsProductsAndNesting) {
  EXPECT_EQ(expand("{a,b}{1..2}"), (Names{"a1", "a2", "b1", "b2"}));
  EXPECT_EQ(expand("{a,b{1,2}}"), (Names{"a", "b1", "b2"}));
  EXPECT_EQ(expand("python{2.{5..7},3.{2,3}}"),
            (Names{"python2.5", "python2.6", "python2.7", "python3.2", "python3.3"}));
  EXPECT_EQ(expand("a{b,c{d,e,}}"), (Names{"ab", "acd", "ace", "ac"}));
  EXPECT_EQ(expand("{b,a}"), (Names{"b", "a"})); // order kept, not sorted
  EXPECT_EQ(expand("{,}"), (Names{"", ""}));
  EXPECT_EQ(expand("{1}"), (Names{"{1}"}));
  EXPECT_EQ(expand("{}"), (Names{"{}"}));
  EXPECT_EQ(expand("{x{1,2}}"), (Names{"{x1}", "{x2}"}));
  EXPECT_EQ(expand("plain.tar"), (Names{"plain.tar"}));
}

TEST(BraceExpand, Escapes) {
  EXPECT_EQ(expand("\\{x\\}"), (Names{"{x}"}));
  EXPECT_EQ(expand("{1\\,2}"), (Names{"{1,2}"}));
  EXPECT_EQ(expand("{\\,1,2}"), (Names{",1", "2"}));
  EXPECT_EQ(expand("\\\\{1,2}"), (Names{"\\1", "\\2"}));
  EXPECT_EQ(expand("\\{1..2\\}"), (Names{"{1..2}"}));
}

TEST(BraceExpand, ErrorsNameTheColumn) {
  std::string error = expandError("{1{2,3}");
  EXPECT_NE(error.find("column 1"), std::string::npos) << error;
  EXPECT_NE(error.find("never closed"), std::string::npos) << error;
  error = expandError("{1,2}}");
  EXPECT_NE(error.find("column 6"), std::string::npos) << error;
  error = expandError("shard-}{");
  EXPECT_NE(error.find("column 7"), std::string::npos) << error;
  error = expandError("\\{1..2}"); // braceexpand 0.1.7 raises too
  EXPECT_NE(error.find("column 7"), std::string::npos) << error;
  error = expandError("{0..99999999999999999999}");
  EXPECT_NE(error.find("column 5"), std::string::npos) << error;
  error = expandError("{0..99999999}");
  EXPECT_NE(error.find("more than"), std::string::npos) << error;
  error = expandError("{0..9999}{0..9999}");
  EXPECT_NE(error.find("column 10"), std::string::npos) << error;
}

// WebDataset names -----------------------------------------------------------

TEST(WebDataset, SplitKey) {
  auto split = [](const std::string &path) {
    std::string key, ext;
    return splitKey(path, key, ext) ? key + "|" + ext : std::string("none");
  };
  EXPECT_EQ(split("a.jpg"), "a|jpg");
  EXPECT_EQ(split("a.seg.png"), "a|seg.png");
  EXPECT_EQ(split("dir.v1/abc.jpg"), "dir.v1/abc|jpg");
  EXPECT_EQ(split("dir.v1/abc.seg.png"), "dir.v1/abc|seg.png");
  EXPECT_EQ(split("x/y.JPG"), "x/y|JPG");
  EXPECT_EQ(split("a."), "a|");
  EXPECT_EQ(split("README"), "none");
  EXPECT_EQ(split("a.b/c"), "none");
  EXPECT_EQ(split(".hidden.jpg"), "none");
  // The regex's backtracking: the key may then end in '/'.
  EXPECT_EQ(split("a/b/.x.jpg"), "a/b/|x.jpg");
}

TEST(WebDataset, ExpandShards) {
  TempDir dir;
  for (int i = 0; i < 3; ++i)
    writeFile(dir / ("s-" + std::to_string(i) + ".tar"), "x");
  fs::create_directory(dir / "s-d.tar");
  std::vector<std::string> paths;
  std::string error;
  ASSERT_TRUE(expandShards(dir / "s-{0..2}.tar", paths, error)) << error;
  EXPECT_EQ(paths, (Names{dir / "s-0.tar", dir / "s-1.tar", dir / "s-2.tar"}));

  EXPECT_FALSE(expandShards(dir / "s-{0..4}.tar", paths, error));
  EXPECT_NE(error.find(dir / "s-3.tar does not exist (3 of the 5 files exist)"),
            std::string::npos) << error;
  EXPECT_FALSE(expandShards(dir / "t-{0..1}.tar", paths, error));
  EXPECT_NE(error.find("(0 of the 2 files exist)"), std::string::npos) << error;
  EXPECT_FALSE(expandShards(dir / "s-{0,d}.tar", paths, error));
  EXPECT_NE(error.find("s-d.tar is not a regular file"), std::string::npos) << error;
  EXPECT_FALSE(expandShards("", paths, error));
  EXPECT_NE(error.find("empty"), std::string::npos) << error;
  EXPECT_FALSE(expandShards(dir / "s-{0..2.tar", paths, error));
  EXPECT_NE(error.find("never closed"), std::string::npos) << error;
}

// TarShards ------------------------------------------------------------------

#if KILN_HAVE_ARCHIVE

using Members = std::vector<std::pair<std::string, std::string>>;

std::vector<uint8_t> bytesOf(const std::string &s) { return {s.begin(), s.end()}; }

void writeTar(const std::string &path, const Members &members) {
  TarWriter writer;
  std::string error;
  ASSERT_TRUE(writer.open(path, error)) << error;
  for (const auto &[name, contents] : members)
    ASSERT_TRUE(writer.add(name, bytesOf(contents), error)) << error;
  ASSERT_TRUE(writer.close(error)) << error;
}

Members readTar(const std::string &path) {
  TarReader reader;
  std::string error, name;
  std::vector<uint8_t> bytes;
  Members members;
  EXPECT_TRUE(reader.open(path, error)) << error;
  for (bool end = false;;) {
    EXPECT_TRUE(reader.next(name, bytes, end, error)) << error;
    if (end || !error.empty())
      return members;
    members.emplace_back(name, std::string(bytes.begin(), bytes.end()));
  }
}

/// Reads `path` to the end (or to the first error, returned in `error`).
std::vector<ShardSample> readShard(const std::string &path, std::string &error) {
  ShardReader reader;
  std::vector<ShardSample> samples;
  if (!reader.open(path, error))
    return samples;
  for (ShardSample sample;;) {
    bool end;
    if (!reader.next(sample, end, error) || end)
      return samples;
    samples.push_back(sample);
  }
}


TEST(TarShards, RoundTrip) {
  TempDir dir;
  std::string path = dir / "round.tar";
  std::string binary("\0\x01\xff\n", 4);
  Members members = {{"a.jpg", binary + std::string(3000, 'x')},
                     {"sub/dir/b.cls", "7"},
                     {"empty.txt", ""},
                     {std::string(150, 'n') + ".png", "long name"},
                     {"caf\xc3\xa9.jpg", "utf-8 name"}};
  TarWriter writer;
  std::string error;
  ASSERT_TRUE(writer.open(path, error)) << error;
  for (const auto &[name, contents] : members)
    ASSERT_TRUE(writer.add(name, bytesOf(contents), error)) << error;
  EXPECT_FALSE(fs::exists(path)) << "the shard appears only when complete";
  ASSERT_TRUE(writer.close(error)) << error;
  EXPECT_FALSE(fs::exists(path + ".tmp"));
  EXPECT_EQ(readTar(path), members);
}

TEST(TarShards, AbandonedWriterLeavesNothing) {
  TempDir dir;
  std::string path = dir / "partial.tar", error;
  {
    TarWriter writer;
    ASSERT_TRUE(writer.open(path, error)) << error;
    ASSERT_TRUE(writer.add("a.jpg", bytesOf("x"), error)) << error;
  }
  EXPECT_FALSE(fs::exists(path));
  EXPECT_FALSE(fs::exists(path + ".tmp"));
  TarWriter writer;
  EXPECT_FALSE(writer.open(dir / "no/such/dir.tar", error));
  EXPECT_NE(error.find("no/such/dir.tar.tmp"), std::string::npos) << error;
}

/// Writes members with libarchive itself: a directory, a symlink, files,
/// optionally through gzip.
void writeMixedTar(const std::string &path, bool gzip) {
  struct archive *a = archive_write_new();
  archive_write_set_format_pax_restricted(a);
  if (gzip) {
    ASSERT_EQ(archive_write_add_filter_gzip(a), ARCHIVE_OK) << archive_error_string(a);
  }
  ASSERT_EQ(archive_write_open_filename(a, path.c_str()), ARCHIVE_OK);
  auto add = [&](const char *name, unsigned type, const std::string &contents) {
    struct archive_entry *e = archive_entry_new();
    archive_entry_set_pathname(e, name);
    archive_entry_set_filetype(e, type);
    archive_entry_set_perm(e, 0755);
    if (type == AE_IFLNK)
      archive_entry_set_symlink(e, "adir/a.jpg");
    archive_entry_set_size(e, type == AE_IFREG ? la_int64_t(contents.size()) : 0);
    EXPECT_EQ(archive_write_header(a, e), ARCHIVE_OK) << archive_error_string(a);
    if (!contents.empty())
      archive_write_data(a, contents.data(), contents.size());
    archive_entry_free(e);
  };
  add("adir", AE_IFDIR, "");
  add("adir/a.jpg", AE_IFREG, "jpeg bytes");
  add("link.jpg", AE_IFLNK, "");
  add("adir/a.cls", AE_IFREG, "3");
  ASSERT_EQ(archive_write_close(a), ARCHIVE_OK);
  archive_write_free(a);
}

TEST(TarShards, SkipsDirectoriesAndLinks) {
  TempDir dir;
  for (bool gzip : {false, true}) {
    std::string path = dir / (gzip ? "mixed.tar.gz" : "mixed.tar");
    writeMixedTar(path, gzip);
    EXPECT_EQ(readTar(path), (Members{{"adir/a.jpg", "jpeg bytes"}, {"adir/a.cls", "3"}}))
        << path;
    TarReader reader;
    std::string error, name;
    ASSERT_TRUE(reader.open(path, error)) << error;
    Names names;
    for (bool end = false; !end;) {
      ASSERT_TRUE(reader.skipNext(name, end, error)) << error;
      if (!end)
        names.push_back(name);
    }
    EXPECT_EQ(names, (Names{"adir/a.jpg", "adir/a.cls"}));
    bool end = false;
    EXPECT_TRUE(reader.skipNext(name, end, error) && end) << "the end stays the end";
  }
}

TEST(TarShards, TruncatedMemberIsAnErrorNamingIt) {
  TempDir dir;
  std::string whole = dir / "whole.tar", cut = dir / "cut.tar";
  writeTar(whole, {{"a.jpg", std::string(600, 'a')}, {"b.jpg", std::string(5000, 'b')}});
  std::ifstream in(whole, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), {});
  // a.jpg: header at 0, data 512..1112 (padded to 1536); b.jpg: header at 1536.
  writeFile(cut, bytes.substr(0, 1536 + 512 + 2000));

  TarReader reader;
  std::string error, name;
  std::vector<uint8_t> data;
  bool end;
  ASSERT_TRUE(reader.open(cut, error)) << error;
  ASSERT_TRUE(reader.next(name, data, end, error)) << error;
  EXPECT_EQ(name, "a.jpg");
  EXPECT_FALSE(reader.next(name, data, end, error));
  EXPECT_NE(error.find(cut), std::string::npos) << error;
  EXPECT_NE(error.find("member b.jpg"), std::string::npos) << error;
  EXPECT_NE(error.find("byte 1536"), std::string::npos) << error;
  EXPECT_NE(error.find("Truncated"), std::string::npos) << error;

  int64_t count;
  EXPECT_FALSE(countSamples(cut, count, error));
  EXPECT_NE(error.find(cut), std::string::npos) << error;
}

TEST(TarShards, NotATarIsAnError) {
  TempDir dir;
  std::string junk = dir / "junk.tar", empty = dir / "empty.tar", error;
  writeFile(junk, std::string(2000, 'j'));
  writeFile(empty, "");
  TarReader reader;
  for (const std::string &path : {junk, empty}) {
    EXPECT_FALSE(reader.open(path, error));
    EXPECT_EQ(error.rfind(path + ": not a tar archive (", 0), 0u) << error;
  }
  EXPECT_FALSE(reader.open(dir / "missing.tar", error));
  EXPECT_NE(error.find("missing.tar: cannot open: No such file"), std::string::npos) << error;
}

// WebDataset shards ----------------------------------------------------------

TEST(WebDataset, GroupsConsecutiveMembers) {
  TempDir dir;
  std::string path = dir / "shard.tar";
  writeTar(path, {{"__meta__", "{}"},
                  {"a.jpg", "A1"},
                  {"a.cls", "3"},
                  {"README", "no key"},
                  {"b.seg.png", "B-seg"},
                  {"b.png", "B"},
                  {"b.CLS", " 7\n"},
                  {"dir.v1/c.webp", "C"},
                  {"dir.v1/c.cls", "+12"},
                  {"a.jpeg", "A2"}, // the same key again, not adjacent
                  {"a.cls", "4"},
                  {"f.png", "F-png"},
                  {"f.JPG", "F-jpg"},
                  {"f.cls", "0"}});
  std::string error;
  std::vector<ShardSample> samples = readShard(path, error);
  ASSERT_TRUE(error.empty()) << error;
  ASSERT_EQ(samples.size(), 5u);
  auto expectSample = [&](size_t i, const char *key, const char *imageName,
                          const char *image, int32_t label) {
    const ShardSample &s = samples[i];
    EXPECT_EQ(s.key, key) << i;
    EXPECT_EQ(s.imageName, imageName) << i;
    EXPECT_EQ(std::string(s.image.begin(), s.image.end()), image) << i;
    EXPECT_EQ(s.label, label) << i;
    EXPECT_EQ(s.problem, "") << i;
    EXPECT_EQ(s.member, i);
  };
  expectSample(0, "a", "a.jpg", "A1", 3);
  expectSample(1, "b", "b.png", "B", 7);
  expectSample(2, "dir.v1/c", "dir.v1/c.webp", "C", 12);
  expectSample(3, "a", "a.jpeg", "A2", 4);
  expectSample(4, "f", "f.JPG", "F-jpg", 0); // jpg before png, whatever the order

  int64_t count = -1;
  ASSERT_TRUE(countSamples(path, count, error)) << error;
  EXPECT_EQ(count, int64_t(samples.size()));
}

TEST(WebDataset, BadSamplesCarryAProblem) {
  TempDir dir;
  std::string path = dir / "bad.tar";
  writeTar(path, {{"nocls.jpg", "x"},
                  {"word.jpg", "x"},
                  {"word.cls", "x"},
                  {"neg.jpg", "x"},
                  {"neg.cls", "-3"},
                  {"big.jpg", "x"},
                  {"big.cls", "2147483648"},
                  {"noimg.txt", "x"},
                  {"noimg.cls", "1"},
                  {"dup.jpg", "x"},
                  {"dup.cls", "1"},
                  {"dup.JPG", "y"},
                  {"good.png", "x"},
                  {"good.cls", "\t2147483647\r\n"}});
  std::string error;
  std::vector<ShardSample> samples = readShard(path, error);
  ASSERT_TRUE(error.empty()) << error;
  ASSERT_EQ(samples.size(), 7u);
  auto expectProblem = [&](size_t i, const char *key, const char *what) {
    const ShardSample &s = samples[i];
    EXPECT_EQ(s.key, key);
    EXPECT_EQ(s.member, i);
    EXPECT_EQ(s.label, -1) << key;
    EXPECT_EQ(s.problem.rfind(path + ": sample " + key + ": ", 0), 0u) << s.problem;
    EXPECT_NE(s.problem.find(what), std::string::npos) << s.problem;
  };
  expectProblem(0, "nocls", "no .cls member");
  expectProblem(1, "word", "member word.cls: label \"x\" is not a decimal integer");
  expectProblem(2, "neg", "label \"-3\" is outside 0 to 2147483647");
  expectProblem(3, "big", "is outside");
  expectProblem(4, "noimg", "no .jpg, .jpeg, .png or .webp member");
  expectProblem(5, "dup", "member dup.JPG repeats extension \"jpg\"");
  EXPECT_EQ(samples[6].problem, "");
  EXPECT_EQ(samples[6].label, 2147483647);

  int64_t count = -1;
  ASSERT_TRUE(countSamples(path, count, error)) << error;
  EXPECT_EQ(count, 7);
}

TEST(WebDataset, EmptyShardHasNoSamples) {
  TempDir dir;
  std::string path = dir / "empty.tar", error;
  writeTar(path, {{"__meta__", "x"}, {"README", "x"}});
  EXPECT_TRUE(readShard(path, error).empty());
  EXPECT_TRUE(error.empty()) << error;
  int64_t count = -1;
  ASSERT_TRUE(countSamples(path, count, error)) << error;
  EXPECT_EQ(count, 0);
}

TEST(WebDataset, BrokenTarIsAnError) {
  TempDir dir;
  std::string path = dir / "junk.tar", error;
  writeFile(path, std::string(4096, '?'));
  readShard(path, error);
  EXPECT_NE(error.find("not a tar archive"), std::string::npos) << error;
}

#else // !KILN_HAVE_ARCHIVE

TEST(TarShards, RefusedWithoutLibarchive) {
  TempDir dir;
  std::string path = dir / "a.tar", error;
  TarReader reader;
  EXPECT_FALSE(reader.open(path, error));
  EXPECT_NE(error.find("apt-get install libarchive-dev"), std::string::npos) << error;
  TarWriter writer;
  EXPECT_FALSE(writer.open(path, error));
  EXPECT_NE(error.find("apt-get install libarchive-dev"), std::string::npos) << error;
  EXPECT_FALSE(fs::exists(path + ".tmp"));
}

#endif // KILN_HAVE_ARCHIVE

// ShuffleBuffer --------------------------------------------------------------

std::vector<int> shuffled(int n, size_t bufsize, size_t initial, uint64_t seed) {
  ShuffleBuffer<int> buffer(bufsize, initial, Random(seed, 7, 0));
  std::vector<int> out;
  int item;
  for (int i = 0; i < n; ++i) {
    if (buffer.push(i)) {
      EXPECT_TRUE(buffer.pop(item));
      out.push_back(item);
    }
    EXPECT_LE(buffer.size(), std::max<size_t>(bufsize, 1));
  }
  while (buffer.pop(item))
    out.push_back(item);
  EXPECT_EQ(buffer.size(), 0u);
  return out;
}

TEST(ShuffleBuffer, PermutesDeterministically) {
  std::vector<int> identity(1000);
  std::iota(identity.begin(), identity.end(), 0);
  std::vector<int> a = shuffled(1000, 100, 10, 1);
  std::vector<int> sorted = a;
  std::sort(sorted.begin(), sorted.end());
  EXPECT_EQ(sorted, identity);
  EXPECT_NE(a, identity);
  EXPECT_EQ(shuffled(1000, 100, 10, 1), a);
  EXPECT_NE(shuffled(1000, 100, 10, 2), a);
}

TEST(ShuffleBuffer, BufferOfOneKeepsTheOrder) {
  std::vector<int> identity(50);
  std::iota(identity.begin(), identity.end(), 0);
  EXPECT_EQ(shuffled(50, 1, 100, 3), identity);
  EXPECT_EQ(shuffled(50, 0, 0, 3), identity);
}

TEST(ShuffleBuffer, FillsTwiceAsFastUntilInitial) {
  // Python's step takes two items while the buffer is short of `bufsize`
  // and yields once it holds `initial`: output j (from 1) comes with item
  // 100 + 2(j - 1) until the buffer is full at item 1901, then one per item.
  ShuffleBuffer<int> buffer(1000, 100, Random(5, 7, 0));
  std::vector<int> readyAt;
  int item;
  for (int i = 1; i <= 2000; ++i)
    if (buffer.push(i)) {
      readyAt.push_back(i);
      buffer.pop(item);
    }
  ASSERT_GT(readyAt.size(), 3u);
  EXPECT_EQ(readyAt[0], 100);
  EXPECT_EQ(readyAt[1], 102);
  EXPECT_EQ(readyAt[900], 1900);
  EXPECT_EQ(readyAt[901], 1901);
  EXPECT_EQ(readyAt.back(), 2000);
  EXPECT_EQ(buffer.size(), 999u);
}

} // namespace
