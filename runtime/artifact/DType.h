//===- DType.h - the element types of kiln's buffers -------------*- C++ -*-===//
//
// One table for every element type a buffer may hold: its name in the
// manifest and the graph format ("f32"), its safetensors name ("F32") and
// its size. The compiler's side (the MLIR type of each) is
// dialects/Kiln/IR/KilnDTypes.h. bf16, f16 and i64 are in the table before
// any op produces them, so that adding mixed precision touches no table.
// Header-only: the dialect, the compiler and the runtime all read it.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_ARTIFACT_DTYPE_H
#define KILN_ARTIFACT_DTYPE_H

#include <cstdint>
#include <optional>
#include <string_view>

namespace kiln {

enum class DType : uint8_t { F32, BF16, F16, I32, I64, I1 };

struct DTypeInfo {
  DType dtype;
  const char *name;        // manifest and graph format
  const char *safetensors; // safetensors header
  int64_t bytes;           // per element (i1: one byte)
  bool isFloat;
};

/// Every dtype, in DType order.
inline constexpr DTypeInfo kDTypes[] = {
    {DType::F32, "f32", "F32", 4, true},  {DType::BF16, "bf16", "BF16", 2, true},
    {DType::F16, "f16", "F16", 2, true},  {DType::I32, "i32", "I32", 4, false},
    {DType::I64, "i64", "I64", 8, false}, {DType::I1, "i1", "BOOL", 1, false},
};

inline const DTypeInfo &info(DType d) { return kDTypes[static_cast<int>(d)]; }
inline const char *dtypeName(DType d) { return info(d).name; }
inline const char *safetensorsDtype(DType d) { return info(d).safetensors; }
inline int64_t elementBytes(DType d) { return info(d).bytes; }

/// The dtype called `name` in the manifest ("f32"), if any.
inline std::optional<DType> dtypeNamed(std::string_view name) {
  for (const DTypeInfo &d : kDTypes)
    if (name == d.name)
      return d.dtype;
  return std::nullopt;
}

/// The dtype a graph's or the command line's `precision` names: f32, bf16,
/// or fp16 (PyTorch's and DINO's name for f16).
inline std::optional<DType> precisionNamed(std::string_view name) {
  if (name == "fp16")
    return DType::F16;
  if (name == "f32" || name == "bf16")
    return dtypeNamed(name);
  return std::nullopt;
}

/// The dtype called `name` in a safetensors header ("F32"), if any.
inline std::optional<DType> dtypeFromSafetensors(std::string_view name) {
  for (const DTypeInfo &d : kDTypes)
    if (name == d.safetensors)
      return d.dtype;
  return std::nullopt;
}

} // namespace kiln

#endif // KILN_ARTIFACT_DTYPE_H
