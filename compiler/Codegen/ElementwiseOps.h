//===- ElementwiseOps.h - the scalar formula of each elementwise op -*- C++ -*-===//
#ifndef KILN_CODEGEN_ELEMENTWISEOPS_H
#define KILN_CODEGEN_ELEMENTWISEOPS_H

#include "mlir/IR/Builders.h"
#include "mlir/IR/Operation.h"

namespace kiln {

/// The scalar formula of an elementwise op on loaded operand values
/// (null if `op` is not elementwise).
mlir::Value scalarOp(mlir::OpBuilder &b, mlir::Location loc, mlir::Operation *op,
                     mlir::ValueRange x);

} // namespace kiln

#endif // KILN_CODEGEN_ELEMENTWISEOPS_H
