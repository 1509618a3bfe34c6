//===- Crc32Test.cpp - checksums of artifact and snapshot files -----------===//
#include "runtime/artifact/Crc32.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

namespace {

// The CRC-32 check value of "123456789" (IEEE 802.3, as zlib and PNG).
TEST(Crc32, MatchesTheStandardCheckValue) {
  std::string s = "123456789";
  EXPECT_EQ(kiln::crc32(s.data(), s.size()), 0xCBF43926u);
  EXPECT_EQ(kiln::crc32Hex(0xCBF43926u), "cbf43926");
}

// Snapshots sum their tensors piece by piece: that must equal the whole,
// and an empty tensor (an empty vector's null data()) must leave the sum
// as it was (zlib answers a null buffer with its initial value, 0).
TEST(Crc32, ContinuesOverPiecesAndSkipsEmptyOnes) {
  std::string a = "the quick brown fox", b = " jumps over the lazy dog";
  uint32_t whole = kiln::crc32((a + b).data(), a.size() + b.size());
  uint32_t pieces = kiln::crc32(b.data(), b.size(), kiln::crc32(a.data(), a.size()));
  EXPECT_EQ(pieces, whole);
  std::vector<uint8_t> empty;
  uint32_t running = kiln::crc32(a.data(), a.size());
  EXPECT_EQ(kiln::crc32(empty.data(), empty.size(), running), running);
  EXPECT_EQ(kiln::crc32(b.data(), b.size(), kiln::crc32(empty.data(), 0, running)), whole);
}

TEST(Crc32, OfAFileIsTheCrcOfItsBytes) {
  std::string path = ::testing::TempDir() + "/crc32-file.bin";
  std::string content(3 << 20, '\0'); // more than one read chunk
  for (size_t i = 0; i < content.size(); ++i)
    content[i] = static_cast<char>(i * 131 % 251);
  std::ofstream(path, std::ios::binary) << content;
  uint32_t crc = 0;
  int64_t bytes = 0;
  ASSERT_TRUE(kiln::fileCrc32(path, crc, bytes));
  EXPECT_EQ(bytes, static_cast<int64_t>(content.size()));
  EXPECT_EQ(crc, kiln::crc32(content.data(), content.size()));
  std::remove(path.c_str());
  EXPECT_FALSE(kiln::fileCrc32(path, crc, bytes));
}

} // namespace
