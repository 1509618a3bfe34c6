//===- KilnShapes.cpp - shape rules shared by kiln ops --------------------===//
#include "Kiln/IR/KilnShapes.h"

#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/Diagnostics.h"
#include "llvm/ADT/STLExtras.h"
#include "llvm/Support/raw_ostream.h"

using namespace mlir;

namespace kiln {

std::string typeString(Type type) {
  std::string s;
  llvm::raw_string_ostream os(s);
  type.print(os);
  return s;
}

bool broadcastShapes(ArrayRef<int64_t> a, ArrayRef<int64_t> b,
                     SmallVectorImpl<int64_t> &out) {
  size_t rank = std::max(a.size(), b.size());
  out.assign(rank, 1);
  for (size_t i = 0; i < rank; ++i) {
    // Align trailing dimensions; a missing leading dimension counts as 1.
    int64_t da = i < rank - a.size() ? 1 : a[i - (rank - a.size())];
    int64_t db = i < rank - b.size() ? 1 : b[i - (rank - b.size())];
    if (da != db && da != 1 && db != 1)
      return false;
    out[i] = da == 1 ? db : da;
  }
  return true;
}

LogicalResult expectOperands(StringRef opName, std::optional<Location> loc,
                             ValueRange operands, size_t count) {
  if (count == 0 && operands.empty())
    return emitOptionalError(loc, "'", opName,
                             "' op needs at least one operand");
  if (count != 0 && operands.size() != count)
    return emitOptionalError(loc, "'", opName, "' op takes ", count,
                             count == 1 ? " operand" : " operands", ", got ",
                             operands.size());
  for (Value v : operands)
    if (!isa<RankedTensorType>(v.getType()))
      return emitOptionalError(loc, "'", opName,
                               "' op operands must be ranked tensors, got ",
                               typeString(v.getType()));
  return success();
}

LogicalResult checkAxis(StringRef opName, std::optional<Location> loc,
                        StringRef what, int64_t axis, RankedTensorType type) {
  if (axis < 0 || axis >= type.getRank())
    return emitOptionalError(loc, "'", opName, "' op ", what, " ", axis,
                             " is out of range for input ", typeString(type));
  return success();
}

LogicalResult inferSameType(StringRef opName, std::optional<Location> loc,
                            ValueRange operands, DictionaryAttr attrs,
                            bool axisAttr, SmallVectorImpl<Type> &inferred) {
  if (failed(expectOperands(opName, loc, operands, 1)))
    return failure();
  auto type = cast<RankedTensorType>(operands.front().getType());
  if (axisAttr) {
    auto axis = attrs ? attrs.getAs<IntegerAttr>("axis") : nullptr;
    if (!axis)
      return emitOptionalError(loc, "'", opName,
                               "' op needs an integer 'axis' attribute");
    if (failed(checkAxis(opName, loc, "axis", axis.getInt(), type)))
      return failure();
  }
  inferred.push_back(type);
  return success();
}

LogicalResult inferBroadcast(StringRef opName, std::optional<Location> loc,
                             ValueRange operands, ArrayRef<StringRef> names,
                             Type elementType,
                             SmallVectorImpl<Type> &inferred) {
  if (failed(expectOperands(opName, loc, operands, names.size())))
    return failure();
  auto first = cast<RankedTensorType>(operands.front().getType());
  SmallVector<int64_t> shape(first.getShape());
  for (auto [i, v] : llvm::enumerate(operands.drop_front())) {
    auto t = cast<RankedTensorType>(v.getType());
    SmallVector<int64_t> next;
    if (!broadcastShapes(shape, t.getShape(), next))
      return emitOptionalError(
          loc, "'", opName, "' op operand '", names[i + 1], "' (",
          typeString(t), ") does not broadcast with '", names[0], "' (",
          typeString(first), ")",
          i > 0 ? " and the operands before it" : "");
    shape = next;
  }
  inferred.push_back(RankedTensorType::get(
      shape, elementType ? elementType : first.getElementType()));
  return success();
}

LogicalResult inferReduce(StringRef opName, std::optional<Location> loc,
                          ValueRange operands, DictionaryAttr attrs,
                          SmallVectorImpl<Type> &inferred) {
  if (failed(expectOperands(opName, loc, operands, 1)))
    return failure();
  auto input = cast<RankedTensorType>(operands.front().getType());
  auto axes = attrs ? attrs.getAs<DenseI64ArrayAttr>("axes") : nullptr;
  if (!axes)
    return emitOptionalError(loc, "'", opName,
                             "' op needs an 'axes' attribute (array<i64>)");
  auto keepAttr = attrs.getAs<BoolAttr>("keepdim");
  bool keepdim = keepAttr && keepAttr.getValue();
  int64_t rank = input.getRank();
  SmallVector<bool> reduced(rank, false);
  int64_t previous = -1;
  for (int64_t axis : axes.asArrayRef()) {
    if (failed(checkAxis(opName, loc, "axis", axis, input)))
      return failure();
    if (axis <= previous)
      return emitOptionalError(loc, "'", opName,
                               "' op axes must be strictly increasing, got ",
                               axis, " after ", previous);
    previous = axis;
    reduced[axis] = true;
  }
  SmallVector<int64_t> shape;
  for (int64_t d = 0; d < rank; ++d) {
    if (!reduced[d])
      shape.push_back(input.getDimSize(d));
    else if (keepdim)
      shape.push_back(1);
  }
  inferred.push_back(RankedTensorType::get(shape, input.getElementType()));
  return success();
}

} // namespace kiln
