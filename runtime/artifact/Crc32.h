//===- Crc32.h - checksums of artifact and snapshot files --------*- C++ -*-===//
#ifndef KILN_RUNTIME_ARTIFACT_CRC32_H
#define KILN_RUNTIME_ARTIFACT_CRC32_H

#include <cstddef>
#include <cstdint>
#include <string>

namespace kiln {

/// CRC-32 (IEEE 802.3, as zlib's crc32) of `size` bytes, continuing `crc`.
uint32_t crc32(const void *data, size_t size, uint32_t crc = 0);

/// "0a1b2c3d": how manifests' and snapshots' CRCs are written and compared.
std::string crc32Hex(uint32_t crc);

/// The CRC-32 of a whole file; false if it cannot be read.
bool fileCrc32(const std::string &path, uint32_t &crc, int64_t &bytes);

} // namespace kiln

#endif // KILN_RUNTIME_ARTIFACT_CRC32_H
