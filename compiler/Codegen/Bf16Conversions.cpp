//===- Bf16Conversions.cpp - f32 <-> bf16 as integer arithmetic -----------===//
#include "compiler/Codegen/Bf16Conversions.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/IR/TypeUtilities.h"

using namespace mlir;

namespace kiln {
namespace {

/// `elem` in the shape of `like` (a vector's, or scalar).
Type shaped(Type like, Type elem) {
  if (auto v = dyn_cast<VectorType>(like))
    return v.clone(elem);
  return elem;
}

Value splat(OpBuilder &b, Location loc, Type type, int64_t v) {
  Type elem = getElementTypeOrSelf(type);
  TypedAttr attr = b.getIntegerAttr(elem, v);
  if (auto vector = dyn_cast<VectorType>(type))
    attr = DenseElementsAttr::get(vector, attr);
  return b.create<arith::ConstantOp>(loc, type, attr);
}

/// bf16 -> f32: the 16 bits become the top half of the f32 (exact).
struct ExtendBf16 : OpRewritePattern<arith::ExtFOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(arith::ExtFOp op, PatternRewriter &b) const override {
    Type in = op.getIn().getType();
    if (!getElementTypeOrSelf(in).isBF16() || !getElementTypeOrSelf(op.getType()).isF32())
      return failure();
    Location loc = op.getLoc();
    Type i16 = shaped(in, b.getI16Type()), i32 = shaped(in, b.getI32Type());
    Value bits = b.create<arith::ExtUIOp>(loc, i32, b.create<arith::BitcastOp>(loc, i16, op.getIn()));
    Value high = b.create<arith::ShLIOp>(loc, bits, splat(b, loc, i32, 16));
    b.replaceOpWithNewOp<arith::BitcastOp>(op, op.getType(), high);
    return success();
  }
};

/// f32 -> bf16, round to nearest even: add 0x7fff plus the lowest kept bit,
/// keep the top 16 bits. A NaN gets its quiet bit set and no increment (so
/// it stays a NaN); done with masks, not a select: LLVM would move a
/// select of the result through the final bitcast onto bfloat values.
struct TruncateToBf16 : OpRewritePattern<arith::TruncFOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(arith::TruncFOp op, PatternRewriter &b) const override {
    Type in = op.getIn().getType();
    if (!getElementTypeOrSelf(in).isF32() || !getElementTypeOrSelf(op.getType()).isBF16())
      return failure();
    Location loc = op.getLoc();
    Type i16 = shaped(in, b.getI16Type()), i32 = shaped(in, b.getI32Type());
    Value bits = b.create<arith::BitcastOp>(loc, i32, op.getIn());
    Value isNan = b.create<arith::CmpFOp>(loc, arith::CmpFPredicate::UNO, op.getIn(), op.getIn());
    Value isNumber = b.create<arith::CmpFOp>(loc, arith::CmpFPredicate::ORD, op.getIn(), op.getIn());
    Value quiet = b.create<arith::ShLIOp>(loc, b.create<arith::ExtUIOp>(loc, i32, isNan),
                                          splat(b, loc, i32, 22));
    Value lowestKept = b.create<arith::AndIOp>(
        loc, b.create<arith::ShRUIOp>(loc, bits, splat(b, loc, i32, 16)), splat(b, loc, i32, 1));
    Value increment = b.create<arith::AndIOp>(
        loc, b.create<arith::AddIOp>(loc, lowestKept, splat(b, loc, i32, 0x7fff)),
        b.create<arith::ExtSIOp>(loc, i32, isNumber));
    Value biased = b.create<arith::AddIOp>(loc, b.create<arith::OrIOp>(loc, bits, quiet), increment);
    Value rounded = b.create<arith::TruncIOp>(
        loc, i16, b.create<arith::ShRUIOp>(loc, biased, splat(b, loc, i32, 16)));
    b.replaceOpWithNewOp<arith::BitcastOp>(op, op.getType(), rounded);
    return success();
  }
};

} // namespace

void populateBf16ConversionPatterns(RewritePatternSet &patterns) {
  patterns.add<ExtendBf16, TruncateToBf16>(patterns.getContext());
}

} // namespace kiln
