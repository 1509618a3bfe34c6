//===- IdxTest.cpp - IDX reader -------------------------------------------===//
#include "runtime/data/Idx.h"

#include <gtest/gtest.h>

#include <array>
#include <fstream>

using namespace kiln::data;

namespace {

std::vector<uint8_t> idx(std::vector<uint32_t> dims, std::vector<uint8_t> data) {
  std::vector<uint8_t> f = {0, 0, 8, (uint8_t)dims.size()};
  for (uint32_t d : dims)
    for (int s = 24; s >= 0; s -= 8)
      f.push_back(uint8_t(d >> s));
  f.insert(f.end(), data.begin(), data.end());
  return f;
}

TEST(Idx, ParsesDimsAndBytes) {
  IdxArray a;
  std::string error;
  ASSERT_TRUE(parseIdx("t", idx({2, 3}, {1, 2, 3, 4, 5, 6}), a, error)) << error;
  EXPECT_EQ(a.dims, (std::vector<uint32_t>{2, 3}));
  EXPECT_EQ(a.bytes, (std::vector<uint8_t>{1, 2, 3, 4, 5, 6}));
}

TEST(Idx, RejectsBadMagicAndTruncation) {
  IdxArray a;
  std::string error;
  auto bad = idx({2}, {1, 2});
  bad[2] = 0x0D; // float data
  EXPECT_FALSE(parseIdx("f.idx", bad, a, error));
  EXPECT_EQ(error.rfind("f.idx: byte 0: not an IDX file", 0), 0u) << error;
  EXPECT_FALSE(parseIdx("t.idx", idx({4}, {1, 2}), a, error));
  EXPECT_EQ(error, "t.idx: byte 8: header says 4 data bytes, file has 2");
  EXPECT_FALSE(parseIdx("s.idx", {0, 0, 8}, a, error));
}

// The real data set, when Debian's dataset-fashion-mnist is installed:
// 60,000 training labels, 6,000 per class (the data set is balanced).
TEST(Idx, FashionMnistTrainLabels) {
  const std::string path =
      "/usr/share/datasets/fashion-mnist/train-labels-idx1-ubyte.gz";
  if (!std::ifstream(path))
    GTEST_SKIP() << path << " missing: apt-get install dataset-fashion-mnist";
  IdxArray a;
  std::string error;
  ASSERT_TRUE(readIdx(path, a, error)) << error;
  ASSERT_EQ(a.dims, (std::vector<uint32_t>{60000}));
  std::array<int, 10> counts{};
  for (uint8_t label : a.bytes) {
    ASSERT_LT(label, 10);
    ++counts[label];
  }
  for (int c : counts)
    EXPECT_EQ(c, 6000);
}

} // namespace
