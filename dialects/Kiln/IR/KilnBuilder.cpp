//===- KilnBuilder.cpp - build kiln math at one insertion point -----------===//
#include "Kiln/IR/KilnBuilder.h"
#include "Kiln/IR/KilnDTypes.h"

#include "mlir/IR/BuiltinAttributes.h"

using namespace mlir;

namespace kiln {

ArrayRef<int64_t> shapeOf(Type t) { return cast<RankedTensorType>(t).getShape(); }
ArrayRef<int64_t> shapeOf(Value v) { return shapeOf(v.getType()); }

Value KilnBuilder::constant(ArrayRef<int64_t> shape, ArrayRef<double> values) {
  auto type = RankedTensorType::get(shape, b.getF32Type());
  SmallVector<float> data(values.begin(), values.end());
  auto attr = DenseElementsAttr::get(type, ArrayRef<float>(data));
  return b.create<ConstantOp>(loc, type, attr);
}

Value KilnBuilder::scalar(double v) { return constant({}, {v}); }

Value KilnBuilder::zeros(Type type) { return broadcast(scalar(0.0), shapeOf(type)); }

Value KilnBuilder::compare(StringRef predicate, Value x, Value y) {
  return b.create<CompareOp>(loc, ValueRange{x, y},
                             ArrayRef<NamedAttribute>{b.getNamedAttr(
                                 "predicate", b.getStringAttr(predicate))});
}

Value KilnBuilder::toF32(Value x) {
  return b.create<CastOp>(loc, RankedTensorType::get(shapeOf(x), b.getF32Type()), x);
}

namespace {
SmallVector<NamedAttribute> reduceAttrs(OpBuilder &b, ArrayRef<int64_t> axes,
                                        bool keepdim) {
  return {b.getNamedAttr("axes", b.getDenseI64ArrayAttr(axes)),
          b.getNamedAttr("keepdim", b.getBoolAttr(keepdim))};
}
} // namespace

Value KilnBuilder::sum(Value x, ArrayRef<int64_t> axes, bool keepdim) {
  if (axes.empty())
    return x;
  return b.create<SumOp>(loc, ValueRange{x}, reduceAttrs(b, axes, keepdim));
}

Value KilnBuilder::mean(Value x, ArrayRef<int64_t> axes, bool keepdim) {
  return b.create<MeanOp>(loc, ValueRange{x}, reduceAttrs(b, axes, keepdim));
}

Value KilnBuilder::sumAll(Value x) {
  auto axes = llvm::to_vector(llvm::seq<int64_t>(0, shapeOf(x).size()));
  return sum(x, axes, /*keepdim=*/false);
}

Value KilnBuilder::reshape(Value x, ArrayRef<int64_t> shape) {
  auto type = RankedTensorType::get(
      shape, cast<RankedTensorType>(x.getType()).getElementType());
  if (type == x.getType())
    return x;
  return b.create<ReshapeOp>(loc, type, x);
}

Value KilnBuilder::transpose(Value x, ArrayRef<int64_t> perm) {
  return b.create<TransposeOp>(
      loc, ValueRange{x},
      ArrayRef<NamedAttribute>{b.getNamedAttr("perm", b.getDenseI64ArrayAttr(perm))});
}

Value KilnBuilder::broadcast(Value x, ArrayRef<int64_t> shape) {
  if (shapeOf(x) == shape)
    return x;
  return b.create<BroadcastOp>(
      loc, ValueRange{x},
      ArrayRef<NamedAttribute>{b.getNamedAttr("shape", b.getDenseI64ArrayAttr(shape))});
}

Value KilnBuilder::slice(Value x, ArrayRef<int64_t> starts,
                         ArrayRef<int64_t> limits, ArrayRef<int64_t> strides) {
  return b.create<SliceOp>(
      loc, ValueRange{x},
      ArrayRef<NamedAttribute>{
          b.getNamedAttr("starts", b.getDenseI64ArrayAttr(starts)),
          b.getNamedAttr("limits", b.getDenseI64ArrayAttr(limits)),
          b.getNamedAttr("strides", b.getDenseI64ArrayAttr(strides))});
}

Value KilnBuilder::pad(Value x, ArrayRef<int64_t> low, ArrayRef<int64_t> high,
                       ArrayRef<int64_t> interior) {
  return b.create<PadOp>(
      loc, ValueRange{x},
      ArrayRef<NamedAttribute>{
          b.getNamedAttr("low", b.getDenseI64ArrayAttr(low)),
          b.getNamedAttr("high", b.getDenseI64ArrayAttr(high)),
          b.getNamedAttr("interior", b.getDenseI64ArrayAttr(interior))});
}

Value KilnBuilder::concat(ValueRange xs, int64_t axis) {
  return b.create<ConcatOp>(
      loc, xs, ArrayRef<NamedAttribute>{b.getNamedAttr("axis", b.getI64IntegerAttr(axis))});
}

AllReduceOp KilnBuilder::allReduce(ValueRange xs) {
  int64_t bytes = 0;
  for (Value x : xs)
    bytes += cast<RankedTensorType>(x.getType()).getNumElements() * elementBytes(*dtypeOf(x.getType()));
  return b.create<AllReduceOp>(loc, xs, b.getI64IntegerAttr(0), b.getI64IntegerAttr(bytes),
                               /*gradients=*/nullptr);
}

Value KilnBuilder::matmul(Value x, Value y, bool transposeX, bool transposeY) {
  SmallVector<NamedAttribute> attrs;
  if (transposeX)
    attrs.push_back(b.getNamedAttr("transpose_lhs", b.getBoolAttr(true)));
  if (transposeY)
    attrs.push_back(b.getNamedAttr("transpose_rhs", b.getBoolAttr(true)));
  return b.create<MatmulOp>(loc, ValueRange{x, y}, attrs);
}

Value KilnBuilder::sumToShape(Value x, Type target) {
  ArrayRef<int64_t> from = shapeOf(x), to = shapeOf(target);
  if (from == to)
    return x;
  // Leading dimensions the target lacks, then dimensions it has as 1.
  size_t lead = from.size() - to.size();
  SmallVector<int64_t> axes;
  for (size_t d = 0; d < from.size(); ++d)
    if (d < lead || (to[d - lead] == 1 && from[d] != 1))
      axes.push_back(d);
  return reshape(sum(x, axes, /*keepdim=*/true), to);
}

Value KilnBuilder::expandReduced(Value x, Type target, ArrayRef<int64_t> axes,
                                 bool keepdim) {
  SmallVector<int64_t> kept(shapeOf(target));
  for (int64_t a : axes)
    kept[a] = 1;
  if (!keepdim)
    x = reshape(x, kept);
  return broadcast(x, shapeOf(target));
}

} // namespace kiln
