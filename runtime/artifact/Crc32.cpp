//===- Crc32.cpp - checksums of artifact and snapshot files ---------------===//
#include "runtime/artifact/Crc32.h"

#include <array>
#include <cstdio>
#include <fstream>
#include <vector>

namespace kiln {

uint32_t crc32(const void *data, size_t size, uint32_t crc) {
  static const std::array<uint32_t, 256> table = [] {
    std::array<uint32_t, 256> t{};
    for (uint32_t i = 0; i < 256; ++i) {
      uint32_t c = i;
      for (int k = 0; k < 8; ++k)
        c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
      t[i] = c;
    }
    return t;
  }();
  crc = ~crc;
  auto *p = static_cast<const uint8_t *>(data);
  for (size_t i = 0; i < size; ++i)
    crc = table[(crc ^ p[i]) & 0xFF] ^ (crc >> 8);
  return ~crc;
}

bool fileCrc32(const std::string &path, uint32_t &crc, int64_t &bytes) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    return false;
  crc = 0;
  bytes = 0;
  std::vector<char> chunk(1 << 20);
  while (in) {
    in.read(chunk.data(), chunk.size());
    std::streamsize n = in.gcount();
    crc = crc32(chunk.data(), n, crc);
    bytes += n;
  }
  return true;
}

std::string crc32Hex(uint32_t crc) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%08x", crc);
  return buf;
}

} // namespace kiln
