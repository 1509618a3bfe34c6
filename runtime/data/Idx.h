//===- Idx.h - IDX files (MNIST / Fashion-MNIST) ----------------*- C++ -*-===//
//
// Reads an IDX file (optionally gzipped, as Debian's dataset-fashion-mnist
// ships them): magic 0x0000 0x08 (unsigned byte) rank, big-endian dims, then
// the bytes. Every problem is an error naming the file and the byte offset.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_RUNTIME_DATA_IDX_H
#define KILN_RUNTIME_DATA_IDX_H

#include <cstdint>
#include <string>
#include <vector>

namespace kiln::data {

struct IdxArray {
  std::vector<uint32_t> dims; // e.g. {60000, 28, 28}
  std::vector<uint8_t> bytes; // row-major, product(dims) bytes
};

/// Reads `path`; on failure returns false and sets `error`.
bool readIdx(const std::string &path, IdxArray &out, std::string &error);

/// Parses IDX bytes already in memory (`name` is used in messages).
bool parseIdx(const std::string &name, const std::vector<uint8_t> &file,
              IdxArray &out, std::string &error);

} // namespace kiln::data

#endif // KILN_RUNTIME_DATA_IDX_H
