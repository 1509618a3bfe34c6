//===- KilnBuilder.h - build kiln math at one insertion point ----*- C++ -*-===//
//
// Gradient rules and the training-step passes write formulas, not op
// plumbing: `k.mul(g, k.sub(k.scalar(1), k.mul(y, y)))`. Result types are
// inferred by the ops themselves; everything is created at the builder's
// insertion point with one location.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_IR_KILNBUILDER_H
#define KILN_IR_KILNBUILDER_H

#include "Kiln/IR/KilnOps.h"

#include "mlir/IR/Builders.h"

namespace kiln {

class KilnBuilder {
public:
  KilnBuilder(mlir::OpBuilder &b, mlir::Location loc) : b(b), loc(loc) {}

  mlir::OpBuilder &builder() { return b; }
  mlir::Location location() const { return loc; }

  /// A 0-d f32 constant; binary ops broadcast it.
  mlir::Value scalar(double v);
  /// An f32 constant of `shape` holding `values` (row-major).
  mlir::Value constant(llvm::ArrayRef<int64_t> shape, llvm::ArrayRef<double> values);
  /// Zeros of `type`'s shape, as a broadcast scalar.
  mlir::Value zeros(mlir::Type type);

  // Elementwise (binary ops broadcast numpy-style).
  mlir::Value add(mlir::Value x, mlir::Value y) { return make<AddOp>(x, y); }
  mlir::Value sub(mlir::Value x, mlir::Value y) { return make<SubOp>(x, y); }
  mlir::Value mul(mlir::Value x, mlir::Value y) { return make<MulOp>(x, y); }
  mlir::Value div(mlir::Value x, mlir::Value y) { return make<DivOp>(x, y); }
  mlir::Value pow(mlir::Value x, mlir::Value y) { return make<PowOp>(x, y); }
  mlir::Value max(mlir::Value x, mlir::Value y) { return make<MaxOp>(x, y); }
  mlir::Value min(mlir::Value x, mlir::Value y) { return make<MinOp>(x, y); }
  mlir::Value neg(mlir::Value x) { return make<NegOp>(x); }
  mlir::Value exp(mlir::Value x) { return make<ExpOp>(x); }
  mlir::Value expm1(mlir::Value x) { return make<ExpM1Op>(x); }
  mlir::Value log(mlir::Value x) { return make<LogOp>(x); }
  mlir::Value sqrt(mlir::Value x) { return make<SqrtOp>(x); }
  mlir::Value rsqrt(mlir::Value x) { return make<RsqrtOp>(x); }
  mlir::Value tanh(mlir::Value x) { return make<TanhOp>(x); }
  mlir::Value erf(mlir::Value x) { return make<ErfOp>(x); }
  /// i1 mask of `x predicate y` ("eq", "ne", "lt", "le", "gt", "ge").
  mlir::Value compare(llvm::StringRef predicate, mlir::Value x, mlir::Value y);
  mlir::Value select(mlir::Value cond, mlir::Value onTrue, mlir::Value onFalse) {
    return make<SelectOp>(cond, onTrue, onFalse);
  }
  /// An i1/i32 tensor as f32 (1.0 for true).
  mlir::Value toF32(mlir::Value x);

  // Reductions.
  mlir::Value sum(mlir::Value x, llvm::ArrayRef<int64_t> axes, bool keepdim);
  mlir::Value mean(mlir::Value x, llvm::ArrayRef<int64_t> axes, bool keepdim);
  /// Σ of every element, as a 0-d tensor.
  mlir::Value sumAll(mlir::Value x);

  // Shapes.
  mlir::Value reshape(mlir::Value x, llvm::ArrayRef<int64_t> shape);
  mlir::Value transpose(mlir::Value x, llvm::ArrayRef<int64_t> perm);
  mlir::Value broadcast(mlir::Value x, llvm::ArrayRef<int64_t> shape);
  mlir::Value slice(mlir::Value x, llvm::ArrayRef<int64_t> starts,
                    llvm::ArrayRef<int64_t> limits, llvm::ArrayRef<int64_t> strides);
  mlir::Value pad(mlir::Value x, llvm::ArrayRef<int64_t> low,
                  llvm::ArrayRef<int64_t> high, llvm::ArrayRef<int64_t> interior);
  mlir::Value concat(mlir::ValueRange xs, int64_t axis);
  mlir::Value matmul(mlir::Value x, mlir::Value y, bool transposeX = false,
                     bool transposeY = false);
  /// The mean over the ranks of each of `xs`, one bucket (numbered later
  /// by kiln-insert-all-reduce) of their bytes.
  AllReduceOp allReduce(mlir::ValueRange xs);

  /// The sum of a broadcast result back to `target`'s shape: the gradient
  /// of numpy broadcasting. The identity when the shapes already agree.
  mlir::Value sumToShape(mlir::Value x, mlir::Type target);
  /// A reduction's (kept or dropped) result broadcast back over `target`'s
  /// shape: the gradient of a sum over `axes`.
  mlir::Value expandReduced(mlir::Value x, mlir::Type target,
                            llvm::ArrayRef<int64_t> axes, bool keepdim);

private:
  template <typename OpTy, typename... Args>
  mlir::Value make(Args &&...args) {
    return b.create<OpTy>(loc, std::forward<Args>(args)...)->getResult(0);
  }

  mlir::OpBuilder &b;
  mlir::Location loc;
};

/// The shape of a ranked tensor value or type.
llvm::ArrayRef<int64_t> shapeOf(mlir::Value v);
llvm::ArrayRef<int64_t> shapeOf(mlir::Type t);

} // namespace kiln

#endif // KILN_IR_KILNBUILDER_H
