//===- KilnDTypes.h - the MLIR type of each kiln dtype -----------*- C++ -*-===//
//
// The compiler's half of the dtype table (runtime/artifact/DType.h): which
// MLIR element type each dtype is, and back.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_IR_KILNDTYPES_H
#define KILN_IR_KILNDTYPES_H

#include "runtime/artifact/DType.h"

#include "mlir/IR/BuiltinTypes.h"

namespace kiln {

inline mlir::Type mlirElementType(DType d, mlir::MLIRContext *ctx) {
  switch (d) {
  case DType::F32:
    return mlir::Float32Type::get(ctx);
  case DType::BF16:
    return mlir::BFloat16Type::get(ctx);
  case DType::F16:
    return mlir::Float16Type::get(ctx);
  case DType::I32:
    return mlir::IntegerType::get(ctx, 32);
  case DType::I64:
    return mlir::IntegerType::get(ctx, 64);
  case DType::I1:
    return mlir::IntegerType::get(ctx, 1);
  }
  return nullptr;
}

/// The dtype of an element type, or of a tensor type's elements.
inline std::optional<DType> dtypeOf(mlir::Type t) {
  if (auto tensor = mlir::dyn_cast<mlir::ShapedType>(t))
    t = tensor.getElementType();
  for (const DTypeInfo &d : kDTypes)
    if (mlirElementType(d.dtype, t.getContext()) == t)
      return d.dtype;
  return std::nullopt;
}

} // namespace kiln

#endif // KILN_IR_KILNDTYPES_H
