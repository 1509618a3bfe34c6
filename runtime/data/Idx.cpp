//===- Idx.cpp - IDX files (MNIST / Fashion-MNIST) ------------------------===//
#include "runtime/data/Idx.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>
#include <zlib.h>

namespace kiln::data {

namespace {

bool endsWith(const std::string &s, const std::string &suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

bool readAll(const std::string &path, std::vector<uint8_t> &out,
             std::string &error) {
  if (endsWith(path, ".gz")) {
    gzFile f = gzopen(path.c_str(), "rb");
    if (!f) {
      error = path + ": cannot open: " + std::strerror(errno);
      return false;
    }
    uint8_t buffer[1 << 16];
    int n;
    while ((n = gzread(f, buffer, sizeof buffer)) > 0)
      out.insert(out.end(), buffer, buffer + n);
    int code = 0;
    const char *message = gzerror(f, &code);
    bool ok = n == 0 && code == Z_OK;
    if (!ok)
      error = path + ": corrupt gzip data after " + std::to_string(out.size()) +
              " bytes: " + message;
    gzclose(f);
    return ok;
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    error = path + ": cannot open: " + std::strerror(errno);
    return false;
  }
  out.assign(std::istreambuf_iterator<char>(in), {});
  return true;
}

} // namespace

bool parseIdx(const std::string &name, const std::vector<uint8_t> &file,
              IdxArray &out, std::string &error) {
  if (file.size() < 4) {
    error = name + ": " + std::to_string(file.size()) +
            " bytes is too short for an IDX header";
    return false;
  }
  if (file[0] != 0 || file[1] != 0 || file[2] != 0x08) {
    error = name + ": byte 0: not an IDX file of unsigned bytes (magic " +
            std::to_string(file[0]) + " " + std::to_string(file[1]) + " " +
            std::to_string(file[2]) + ", expected 0 0 8)";
    return false;
  }
  unsigned rank = file[3];
  size_t header = 4 + 4 * size_t(rank);
  if (rank == 0 || file.size() < header) {
    error = name + ": byte 3: rank " + std::to_string(rank) +
            " needs a " + std::to_string(header) + "-byte header, file has " +
            std::to_string(file.size()) + " bytes";
    return false;
  }
  out.dims.clear();
  uint64_t count = 1;
  for (unsigned d = 0; d < rank; ++d) {
    const uint8_t *p = &file[4 + 4 * d];
    uint32_t dim = uint32_t(p[0]) << 24 | uint32_t(p[1]) << 16 |
                   uint32_t(p[2]) << 8 | p[3];
    out.dims.push_back(dim);
    if (__builtin_mul_overflow(count, uint64_t(dim), &count)) {
      error = name + ": byte " + std::to_string(4 + 4 * d) +
              ": the dimensions multiply past 2^64 elements, file has " +
              std::to_string(file.size() - header) + " data bytes";
      return false;
    }
  }
  if (file.size() - header != count) {
    error = name + ": byte " + std::to_string(header) + ": header says " +
            std::to_string(count) + " data bytes, file has " +
            std::to_string(file.size() - header);
    return false;
  }
  out.bytes.assign(file.begin() + header, file.end());
  return true;
}

bool readIdx(const std::string &path, IdxArray &out, std::string &error) {
  std::vector<uint8_t> file;
  return readAll(path, file, error) && parseIdx(path, file, out, error);
}

} // namespace kiln::data
