//===- OpKernels.h - the kernels of one kiln op ------------------*- C++ -*-===//
//
// Maps a tensor-level kiln op onto KernelEmitter loop nests (one op may take
// several: pad is a fill and a strided copy) and the thunks that launch them.
// GEMMs, views and sinks are the planner's business (StepPlanner.cpp).
//
//===----------------------------------------------------------------------===//
#ifndef KILN_CODEGEN_OPKERNELS_H
#define KILN_CODEGEN_OPKERNELS_H

#include "compiler/Codegen/KernelEmitter.h"
#include "runtime/artifact/Program.h"

#include "mlir/IR/Operation.h"

namespace kiln {

/// Emits the kernels of `op`, whose operands live in `operandBuffers` and
/// results in `resultBuffers` (ids into `buffers`), appending one thunk per
/// kernel to `thunks` and the kernels to `kernels`. Fails with an error on
/// the op when codegen does not know it.
llvm::LogicalResult emitOpKernels(mlir::Operation *op, KernelEmitter &emitter,
                                  llvm::ArrayRef<int64_t> operandBuffers,
                                  llvm::ArrayRef<int64_t> resultBuffers,
                                  const std::vector<Buffer> &buffers,
                                  std::vector<Kernel> &kernels,
                                  std::vector<Thunk> &thunks);

/// The scalar formula of an elementwise op on loaded operand values
/// (null if `op` is not elementwise). Fused kernels reuse it.
mlir::Value scalarOp(mlir::OpBuilder &b, mlir::Location loc, mlir::Operation *op,
                     mlir::ValueRange x);

} // namespace kiln

#endif // KILN_CODEGEN_OPKERNELS_H
