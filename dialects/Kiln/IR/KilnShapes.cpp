//===- KilnShapes.cpp - shape rules shared by kiln ops --------------------===//
#include "Kiln/IR/KilnShapes.h"

#include "mlir/IR/BuiltinAttributes.h"

#include <algorithm>
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
    // kiln-assign-precision casts before mixing f32 with a low precision;
    // an op never converts implicitly.
    if (!elementType && t.getElementType() != first.getElementType())
      return emitOptionalError(
          loc, "'", opName, "' op operand '", names[i + 1], "' (", typeString(t),
          ") has another element type than '", names[0], "' (", typeString(first),
          "); convert one with kiln.cast");
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

std::string listString(ArrayRef<int64_t> values) {
  std::string s = "[";
  for (auto [i, v] : llvm::enumerate(values))
    s += (i ? ", " : "") + std::to_string(v);
  return s + "]";
}

namespace {

/// convGeometry, its messages naming the second shape `kernelWhat`
/// ("weight", or "window" for a pool's [KH, KW]).
LogicalResult windowGeometry(StringRef opName, std::optional<Location> loc,
                             ArrayRef<int64_t> input, ArrayRef<int64_t> weight,
                             ArrayRef<int64_t> strides, ArrayRef<int64_t> padding,
                             ArrayRef<int64_t> dilation, int64_t groups, ConvGeometry &g,
                             bool pool) {
  auto fail = [&](const std::string &what) {
    return emitOptionalError(loc, "'", opName, "' op ", what, " (input ", listString(input),
                             pool ? ", window " : ", weight ",
                             listString(pool ? weight.drop_front(2) : weight), ")");
  };
  if (input.size() != 4 || weight.size() != 4)
    return fail("needs an [N, C, H, W] input and an [O, C/groups, KH, KW] weight");
  if (strides.size() != 2 || dilation.size() != 2 ||
      llvm::any_of(llvm::concat<const int64_t>(strides, dilation), [](int64_t v) { return v < 1; }))
    return fail("strides " + listString(strides) + " and dilation " + listString(dilation) +
                " need two positive entries (height, width)");
  if (!(padding.size() == 1 || padding.size() == 2 || padding.size() == 4) ||
      llvm::any_of(padding, [](int64_t v) { return v < 0; }))
    return fail("padding " + listString(padding) +
                " needs non-negative entries: one, [height, width] or [top, left, bottom, right]");
  g.n = input[0], g.c = input[1], g.h = input[2], g.w = input[3];
  g.o = weight[0], g.kh = weight[2], g.kw = weight[3];
  g.groups = groups;
  g.stride = {strides[0], strides[1]};
  g.dilation = {dilation[0], dilation[1]};
  if (padding.size() == 1)
    g.pad = {padding[0], padding[0], padding[0], padding[0]};
  else if (padding.size() == 2)
    g.pad = {padding[0], padding[1], padding[0], padding[1]};
  else
    g.pad = {padding[0], padding[1], padding[2], padding[3]};
  if (groups < 1 || g.c % groups || g.o % groups)
    return fail("groups " + std::to_string(groups) + " must divide the input's " +
                std::to_string(g.c) + " and the weight's " + std::to_string(g.o) + " channels");
  if (weight[1] * groups != g.c)
    return fail("the weight's second dimension must be the input's channels / groups = " +
                std::to_string(g.c / groups));
  int64_t spanH = g.dilation[0] * (g.kh - 1) + 1, spanW = g.dilation[1] * (g.kw - 1) + 1;
  int64_t paddedH = g.h + g.pad[0] + g.pad[2], paddedW = g.w + g.pad[1] + g.pad[3];
  if (spanH > paddedH || spanW > paddedW)
    return fail("the dilated kernel (" + std::to_string(spanH) + "x" + std::to_string(spanW) +
                ") is larger than the padded input (" + std::to_string(paddedH) + "x" +
                std::to_string(paddedW) + ")");
  g.ho = (paddedH - spanH) / g.stride[0] + 1;
  g.wo = (paddedW - spanW) / g.stride[1] + 1;
  if (pool && (2 * std::max(g.pad[0], g.pad[2]) > spanH || 2 * std::max(g.pad[1], g.pad[3]) > spanW))
    return fail("padding " + listString(padding) + " exceeds half the window (" +
                std::to_string(spanH) + "x" + std::to_string(spanW) +
                "): a window could hold padding only");
  return success();
}

} // namespace

LogicalResult convGeometry(StringRef opName, std::optional<Location> loc,
                           ArrayRef<int64_t> input, ArrayRef<int64_t> weight,
                           ArrayRef<int64_t> strides, ArrayRef<int64_t> padding,
                           ArrayRef<int64_t> dilation, int64_t groups, ConvGeometry &g) {
  return windowGeometry(opName, loc, input, weight, strides, padding, dilation, groups, g,
                        /*pool=*/false);
}

LogicalResult poolGeometry(StringRef opName, std::optional<Location> loc,
                           ArrayRef<int64_t> input, ArrayRef<int64_t> kernelSize,
                           ArrayRef<int64_t> strides, ArrayRef<int64_t> padding,
                           ArrayRef<int64_t> dilation, ConvGeometry &g) {
  if (kernelSize.size() != 2 || kernelSize[0] < 1 || kernelSize[1] < 1)
    return emitOptionalError(loc, "'", opName, "' op kernel_size ", listString(kernelSize),
                             " needs two positive entries (height, width)");
  if (input.size() != 4)
    return emitOptionalError(loc, "'", opName, "' op needs an [N, C, H, W] input, got ",
                             listString(input));
  int64_t weight[] = {input[1], 1, kernelSize[0], kernelSize[1]};
  return windowGeometry(opName, loc, input, weight, strides, padding, dilation, input[1], g,
                        /*pool=*/true);
}

} // namespace kiln
