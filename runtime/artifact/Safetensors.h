//===- Safetensors.h - read and write .safetensors files ---------*- C++ -*-===//
//
// The format: an 8-byte little-endian header length, a JSON header
// {name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {...}},
// then the tensor bytes. kiln writes F32 and I32 tensors.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_RUNTIME_ARTIFACT_SAFETENSORS_H
#define KILN_RUNTIME_ARTIFACT_SAFETENSORS_H

#include "runtime/artifact/DType.h"

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace kiln {

struct StoredTensor {
  std::string dtype; // "F32", "I32", "BOOL"
  std::vector<int64_t> shape;
  std::vector<uint8_t> data;
};

using TensorMap = std::map<std::string, StoredTensor>;

/// String entries of the header's "__metadata__".
using Metadata = std::map<std::string, std::string>;

/// Writes `tensors` (sorted by name) and `metadata` to `path` atomically
/// (writeFileAtomically: a failure leaves what was there); false with
/// `error` naming the path and the system's reason.
bool writeSafetensors(const std::string &path, const TensorMap &tensors, std::string &error,
                      const Metadata &metadata = {});

/// Reads `path`, checking the header, dtypes, shapes against sizes and
/// offsets against the file; false with `error` naming the file and what
/// is wrong. `metadata`, when given, receives the header's string entries.
bool readSafetensors(const std::string &path, TensorMap &tensors, std::string &error,
                     Metadata *metadata = nullptr);

/// A shape for messages: "[128, 1, 28, 28]".
std::string shapeText(const std::vector<int64_t> &shape);

/// Bytes per element of a safetensors dtype, 0 if unknown.
int64_t dtypeBytes(const std::string &dtype);

} // namespace kiln

#endif // KILN_RUNTIME_ARTIFACT_SAFETENSORS_H
