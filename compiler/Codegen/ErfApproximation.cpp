//===- ErfApproximation.cpp - erf as one rational function ----------------===//
#include "compiler/Codegen/ErfApproximation.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/BuiltinTypes.h"

using namespace mlir;

namespace kiln {
namespace {

// scripts/fit-erf.py: erf(x) ≈ x·P(x²)/Q(x²), fitted on [0, 3.92]; erf
// rounds to 1 in f32 from 3.8325 on, and at kClamp the fit evaluates to
// exactly 1, so inputs are clamped there.
constexpr float kClamp = 3.895f;
constexpr float kP[] = {1.128379225730896f,    0.18501314520835876f,    0.054221026599407196f,
                        0.0038328012451529503f, 0.000376371230231598f,  4.601320597430458e-06f,
                        -1.2747458200124129e-08f};
constexpr float kQ[] = {1.0f, 0.4972970485687256f, 0.11381731182336807f, 0.01541694812476635f,
                        0.0012998301535844803f, 6.23256346443668e-05f};

struct ErfAsRational : OpRewritePattern<math::ErfOp> {
  ErfAsRational(MLIRContext *ctx) : OpRewritePattern(ctx, /*benefit=*/2) {}

  LogicalResult matchAndRewrite(math::ErfOp op, PatternRewriter &b) const override {
    Type type = op.getType();
    auto vector = dyn_cast<VectorType>(type);
    if (!(type.isF32() || (vector && vector.getElementType().isF32() && !vector.isScalable())))
      return failure();
    Location loc = op.getLoc();
    auto constant = [&](float v) -> Value {
      if (vector)
        return b.create<arith::ConstantOp>(loc, DenseElementsAttr::get(vector, v));
      return b.create<arith::ConstantOp>(loc, b.getF32FloatAttr(v));
    };
    auto clamp = [&](Value v, float bound) {
      // maximumf/minimumf propagate NaN: erf(NaN) is NaN.
      Value low = b.create<arith::MaximumFOp>(loc, v, constant(-bound));
      return b.create<arith::MinimumFOp>(loc, low, constant(bound));
    };
    auto horner = [&](ArrayRef<float> coefficients, Value s) {
      Value acc = constant(coefficients.back());
      for (float c : llvm::reverse(coefficients.drop_back()))
        acc = b.create<math::FmaOp>(loc, acc, s, constant(c));
      return acc;
    };
    Value x = clamp(op.getOperand(), kClamp);
    Value s = b.create<arith::MulFOp>(loc, x, x);
    Value ratio = b.create<arith::DivFOp>(loc, b.create<arith::MulFOp>(loc, x, horner(kP, s)),
                                          horner(kQ, s));
    // The fit rounds to 1.0000002 near the clamp.
    b.replaceOp(op, clamp(ratio, 1.0f));
    return success();
  }
};

} // namespace

void populateErfApproximationPatterns(RewritePatternSet &patterns) {
  patterns.add<ErfAsRational>(patterns.getContext());
}

} // namespace kiln
