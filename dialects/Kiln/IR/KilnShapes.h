//===- KilnShapes.h - shape rules shared by kiln ops -------------*- C++ -*-===//
//
// Shape inference that several ops share (broadcasting, reductions). Each
// function reports a failure through mlir::emitOptionalError at `loc`, naming
// the op, the offending operand and the shapes involved.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_IR_KILNSHAPES_H
#define KILN_IR_KILNSHAPES_H

#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Location.h"
#include "mlir/IR/Value.h"
#include "mlir/IR/ValueRange.h"
#include "runtime/artifact/ConvGeometry.h"

#include <optional>
#include <vector>

namespace kiln {

/// numpy broadcasting of two shapes; false when they are incompatible.
bool broadcastShapes(llvm::ArrayRef<int64_t> a, llvm::ArrayRef<int64_t> b,
                     llvm::SmallVectorImpl<int64_t> &out);

/// Result type of an op that broadcasts all of `operands` (named `names` in
/// messages). The element type is `elementType` if given, else the first
/// operand's.
llvm::LogicalResult inferBroadcast(llvm::StringRef opName,
                                   std::optional<mlir::Location> loc,
                                   mlir::ValueRange operands,
                                   llvm::ArrayRef<llvm::StringRef> names,
                                   mlir::Type elementType,
                                   llvm::SmallVectorImpl<mlir::Type> &inferred);

/// Result type of a reduction with attributes `axes` and `keepdim`.
llvm::LogicalResult inferReduce(llvm::StringRef opName,
                                std::optional<mlir::Location> loc,
                                mlir::ValueRange operands,
                                mlir::DictionaryAttr attrs,
                                llvm::SmallVectorImpl<mlir::Type> &inferred);

/// Fails unless there are exactly `count` operands (at least one when
/// `count` is 0, for variadic ops).
llvm::LogicalResult expectOperands(llvm::StringRef opName,
                                   std::optional<mlir::Location> loc,
                                   mlir::ValueRange operands, size_t count);

/// Result type of a one-operand op that keeps its operand's type; with
/// `axisAttr`, also checks the integer attribute `axis` against the rank.
llvm::LogicalResult inferSameType(llvm::StringRef opName,
                                  std::optional<mlir::Location> loc,
                                  mlir::ValueRange operands,
                                  mlir::DictionaryAttr attrs, bool axisAttr,
                                  llvm::SmallVectorImpl<mlir::Type> &inferred);

/// Checks that `axis` indexes a dimension of `type`.
llvm::LogicalResult checkAxis(llvm::StringRef opName,
                              std::optional<mlir::Location> loc,
                              llvm::StringRef what, int64_t axis,
                              mlir::RankedTensorType type);

/// The [out, in] row-major matrix R of a 1-D bilinear resize (PyTorch,
/// align_corners=False): y = R x. `kiln.resize_bilinear` applies it to each
/// of the last two dimensions; its gradient applies Rᵀ.
std::vector<double> bilinearResizeMatrix(int64_t in, int64_t out);

/// Checks a convolution's attributes against its input and weight shapes
/// and computes the result's size. `padding` is one value for every side,
/// [height, width] or [top, left, bottom, right]. Messages name `opName`
/// and the shapes.
llvm::LogicalResult convGeometry(llvm::StringRef opName, std::optional<mlir::Location> loc,
                                 llvm::ArrayRef<int64_t> input, llvm::ArrayRef<int64_t> weight,
                                 llvm::ArrayRef<int64_t> strides,
                                 llvm::ArrayRef<int64_t> padding,
                                 llvm::ArrayRef<int64_t> dilation, int64_t groups,
                                 ConvGeometry &g);

/// Checks a pooling window against its [N, C, H, W] input: the geometry of
/// a convolution with one [KH, KW] kernel per channel (o = groups = C),
/// each side's padding at most half the dilated window, as PyTorch asks.
llvm::LogicalResult poolGeometry(llvm::StringRef opName, std::optional<mlir::Location> loc,
                                 llvm::ArrayRef<int64_t> input,
                                 llvm::ArrayRef<int64_t> kernelSize,
                                 llvm::ArrayRef<int64_t> strides,
                                 llvm::ArrayRef<int64_t> padding,
                                 llvm::ArrayRef<int64_t> dilation, ConvGeometry &g);

/// "[2, 4, 9, 9]" for messages.
std::string listString(llvm::ArrayRef<int64_t> values);

/// "tensor<128x64xf32>" for messages.
std::string typeString(mlir::Type type);

} // namespace kiln

#endif // KILN_IR_KILNSHAPES_H
