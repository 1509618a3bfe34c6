//===- Crc32.cpp - checksums of artifact and snapshot files ---------------===//
#include "runtime/artifact/Crc32.h"

#include <cstdio>
#include <fstream>
#include <vector>

#include <zlib.h>

namespace kiln {

uint32_t crc32(const void *data, size_t size, uint32_t crc) {
  if (size == 0) // zlib answers a null buffer (an empty vector's) with its initial value
    return crc;
  return static_cast<uint32_t>(::crc32_z(crc, static_cast<const Bytef *>(data), size));
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
