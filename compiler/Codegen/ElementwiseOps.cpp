//===- ElementwiseOps.cpp - the scalar formula of each elementwise op -----===//
//
// One element of each elementwise op (kiln.add, kiln.exp, kiln.gelu, ...),
// the only place it is written: the fused body (FusedBody.cpp) runs it in
// every region's loops, on the CPU and on the GPU. The formulas must agree
// with the reference evaluator (compiler/Reference/ReferenceEvaluator.cpp);
// KernelTest checks every op against it.
//
//===----------------------------------------------------------------------===//
#include "compiler/Codegen/ElementwiseOps.h"

#include "Kiln/IR/KilnOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "llvm/ADT/TypeSwitch.h"

#include <cmath>

using namespace mlir;

namespace kiln {
namespace {

Value f32(OpBuilder &b, Location loc, double v) {
  return b.create<arith::ConstantOp>(loc, b.getFloatAttr(b.getF32Type(), v));
}

} // namespace

Value scalarOp(OpBuilder &b, Location loc, Operation *op, ValueRange x) {
  auto one = [&] { return f32(b, loc, 1.0); };
  return llvm::TypeSwitch<Operation *, Value>(op)
      .Case([&](NegOp) { return b.create<arith::NegFOp>(loc, x[0]); })
      .Case([&](ExpOp) { return b.create<math::ExpOp>(loc, x[0]); })
      .Case([&](ExpM1Op) { return b.create<math::ExpM1Op>(loc, x[0]); })
      .Case([&](LogOp) { return b.create<math::LogOp>(loc, x[0]); })
      .Case([&](SqrtOp) { return b.create<math::SqrtOp>(loc, x[0]); })
      .Case([&](RsqrtOp) { return b.create<math::RsqrtOp>(loc, x[0]); })
      .Case([&](TanhOp) { return b.create<math::TanhOp>(loc, x[0]); })
      .Case([&](SigmoidOp) -> Value {
        Value e = b.create<math::ExpOp>(loc, b.create<arith::NegFOp>(loc, x[0]));
        return b.create<arith::DivFOp>(loc, one(), b.create<arith::AddFOp>(loc, one(), e));
      })
      .Case([&](ReluOp) { return b.create<arith::MaximumFOp>(loc, x[0], f32(b, loc, 0.0)); })
      .Case([&](AbsOp) { return b.create<math::AbsFOp>(loc, x[0]); })
      .Case([&](ErfOp) { return b.create<math::ErfOp>(loc, x[0]); })
      .Case([&](FloorOp) { return b.create<math::FloorOp>(loc, x[0]); })
      .Case([&](StopGradientOp) { return x[0]; })
      .Case([&](GeluOp g) -> Value {
        Value half = f32(b, loc, 0.5), v = x[0];
        Value inner;
        if (g.getApproximate() == "none") {
          inner = b.create<math::ErfOp>(loc, b.create<arith::MulFOp>(loc, v, f32(b, loc, M_SQRT1_2)));
        } else {
          Value cube = b.create<arith::MulFOp>(loc, v, b.create<arith::MulFOp>(loc, v, v));
          Value arg = b.create<arith::AddFOp>(
              loc, v, b.create<arith::MulFOp>(loc, cube, f32(b, loc, 0.044715)));
          inner = b.create<math::TanhOp>(
              loc, b.create<arith::MulFOp>(loc, arg, f32(b, loc, std::sqrt(2.0 / M_PI))));
        }
        return b.create<arith::MulFOp>(
            loc, b.create<arith::MulFOp>(loc, half, v), b.create<arith::AddFOp>(loc, one(), inner));
      })
      .Case([&](AddOp) { return b.create<arith::AddFOp>(loc, x[0], x[1]); })
      .Case([&](SubOp) { return b.create<arith::SubFOp>(loc, x[0], x[1]); })
      .Case([&](MulOp) { return b.create<arith::MulFOp>(loc, x[0], x[1]); })
      .Case([&](DivOp) { return b.create<arith::DivFOp>(loc, x[0], x[1]); })
      .Case([&](PowOp) { return b.create<math::PowFOp>(loc, x[0], x[1]); })
      .Case([&](MaxOp) { return b.create<arith::MaximumFOp>(loc, x[0], x[1]); })
      .Case([&](MinOp) { return b.create<arith::MinimumFOp>(loc, x[0], x[1]); })
      .Case([&](CompareOp c) -> Value {
        StringRef p = c.getPredicate();
        if (isa<FloatType>(x[0].getType())) {
          auto pred = llvm::StringSwitch<arith::CmpFPredicate>(p)
                          .Case("eq", arith::CmpFPredicate::OEQ)
                          .Case("ne", arith::CmpFPredicate::UNE)
                          .Case("lt", arith::CmpFPredicate::OLT)
                          .Case("le", arith::CmpFPredicate::OLE)
                          .Case("gt", arith::CmpFPredicate::OGT)
                          .Default(arith::CmpFPredicate::OGE);
          return b.create<arith::CmpFOp>(loc, pred, x[0], x[1]);
        }
        auto pred = llvm::StringSwitch<arith::CmpIPredicate>(p)
                        .Case("eq", arith::CmpIPredicate::eq)
                        .Case("ne", arith::CmpIPredicate::ne)
                        .Case("lt", arith::CmpIPredicate::slt)
                        .Case("le", arith::CmpIPredicate::sle)
                        .Case("gt", arith::CmpIPredicate::sgt)
                        .Default(arith::CmpIPredicate::sge);
        return b.create<arith::CmpIOp>(loc, pred, x[0], x[1]);
      })
      .Case([&](SelectOp) { return b.create<arith::SelectOp>(loc, x[0], x[1], x[2]); })
      .Case([&](CastOp c) -> Value {
        // Floats are f32 in registers (FusedBody::loadElement): a cast
        // between float types is the caller's rounding to the result type.
        Type from = x[0].getType();
        Type to = cast<RankedTensorType>(c.getType()).getElementType();
        if (isa<FloatType>(to))
          to = b.getF32Type();
        if (from == to)
          return x[0];
        if (to.isF32())
          return from.isInteger(1) ? b.create<arith::UIToFPOp>(loc, to, x[0]).getResult()
                                   : b.create<arith::SIToFPOp>(loc, to, x[0]).getResult();
        if (from.isF32())
          return b.create<arith::FPToSIOp>(loc, to, x[0]);
        return b.create<arith::ExtUIOp>(loc, to, x[0]); // i1 -> i32
      })
      .Default([](Operation *) { return Value(); });
}

} // namespace kiln
