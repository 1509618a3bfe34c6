//===- KilnCanonicalize.cpp - kiln canonicalization patterns --------------===//
//
// Rewrites that `canonicalize` applies to kiln ops (each op opts in with
// hasCanonicalizer in KilnOps.td); folders stay beside their ops in
// KilnOps.cpp.
//
//===----------------------------------------------------------------------===//
#include "Kiln/IR/KilnOps.h"

#include "Kiln/IR/KilnBuilder.h"

#include "mlir/IR/PatternMatch.h"

#include <cmath>

using namespace mlir;
using namespace kiln;

namespace {
/// exp(log_softmax(x)) -> softmax(x).
struct ExpOfLogSoftmax : OpRewritePattern<ExpOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(ExpOp op, PatternRewriter &rewriter) const override {
    auto lsm = op.getInput().getDefiningOp<LogSoftmaxOp>();
    if (!lsm)
      return failure();
    rewriter.replaceOpWithNewOp<SoftmaxOp>(
        op, ValueRange{lsm.getInput()},
        ArrayRef<NamedAttribute>{rewriter.getNamedAttr("axis", lsm.getAxisAttr())});
    return success();
  }
};
} // namespace

void ExpOp::getCanonicalizationPatterns(RewritePatternSet &patterns, MLIRContext *context) {
  patterns.add<ExpOfLogSoftmax>(context);
}

namespace {
/// The other operand of a binary `op` of type OpTy when one of its
/// operands is `v` and the other a scalar constant equal to `c` (in f32).
template <typename OpTy> Operation *withConstant(Operation *op, Value v, float c) {
  auto bin = dyn_cast<OpTy>(op);
  if (!bin)
    return nullptr;
  Value other = bin->getOperand(0) == v ? bin->getOperand(1) : bin->getOperand(0);
  auto k = other.getDefiningOp<ConstantOp>();
  auto attr = k ? dyn_cast<DenseElementsAttr>(k.getValue()) : nullptr;
  if (!attr || !attr.isSplat() || !attr.getElementType().isF32() ||
      attr.getSplatValue<float>() != c)
    return nullptr;
  return op;
}

/// gelu(x) -> x·Φ(x) when the step already computes Φ(x) = 0.5·(1 + erf(x/√2))
/// (the gradient of gelu does): erf, the costliest part, then runs once per
/// element instead of twice, and the two fuse into one region.
struct GeluFromItsCdf : OpRewritePattern<GeluOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(GeluOp op, PatternRewriter &rewriter) const override {
    if (op.getApproximate() != "none")
      return failure();
    Value x = op.getInput();
    Operation *cdf = nullptr;
    for (Operation *scaled : x.getUsers()) {
      if (!withConstant<MulOp>(scaled, x, static_cast<float>(M_SQRT1_2)))
        continue;
      for (Operation *erf : scaled->getUsers()) {
        if (!isa<ErfOp>(erf))
          continue;
        for (Operation *plusOne : erf->getUsers()) {
          if (!withConstant<AddOp>(plusOne, erf->getResult(0), 1.0f))
            continue;
          for (Operation *half : plusOne->getUsers())
            if (withConstant<MulOp>(half, plusOne->getResult(0), 0.5f))
              cdf = half;
        }
      }
    }
    if (!cdf || cdf->getResult(0).getType() != x.getType())
      return failure();
    // Φ is computed after gelu (in backward): compute it here and let the
    // later copy go.
    KilnBuilder k(rewriter, op.getLoc());
    Value phi = k.mul(k.add(k.erf(k.mul(x, k.scalar(M_SQRT1_2))), k.scalar(1.0)), k.scalar(0.5));
    rewriter.replaceAllUsesWith(cdf->getResult(0), phi);
    rewriter.replaceOp(op, k.mul(x, phi));
    return success();
  }
};
} // namespace

void GeluOp::getCanonicalizationPatterns(RewritePatternSet &patterns, MLIRContext *context) {
  patterns.add<GeluFromItsCdf>(context);
}
