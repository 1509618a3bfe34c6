//===- ParallelAxis.h - which axis a fusion region runs in parallel -*- C++ -*-===//
//
// A kiln.fusion runs as one kernel whose outer loop (split across threads)
// walks one axis, the *parallel axis*, of every value in it; everything
// else about a value is its local part, computed with loops inside one
// iteration. Each value carries the position of that axis in its shape
// (`kiln.parallel_dim` on the op that defines it, -1 in a region run as a
// single iteration). These rules say where the axis goes through each op,
// and when an op cannot keep it (it reduces or moves data along it). They
// are shared by kiln-fuse, which forms regions, and by codegen.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_TRANSFORMS_PARALLELAXIS_H
#define KILN_TRANSFORMS_PARALLELAXIS_H

#include "mlir/IR/Operation.h"

#include <optional>
#include <string>

namespace kiln {

/// Whether kiln-fuse may put `op` in a region at all.
bool isFusible(mlir::Operation *op, std::string &whyNot);

/// The parallel dim of `op`'s results given its operands' (one entry per
/// operand: the dim, -1 for "none", nullopt for a value from outside the
/// region), in a region whose parallel axis has `rows` elements (1: no
/// parallel axis). Nullopt with `whyNot` when the op would break the axis.
std::optional<int64_t> resultParallelDim(mlir::Operation *op,
                                         llvm::ArrayRef<std::optional<int64_t>> operandDims,
                                         int64_t rows, std::string &whyNot);

/// The parallel dim to start a region at `op` with (its largest axis
/// other than the last and other than any it reduces or normalises
/// along), or -1 when it has none (a scalar result).
int64_t chooseParallelDim(mlir::Operation *op);

/// The parallel dim for `op` alone in a region: chooseParallelDim's if it
/// can be kept, else its largest other axis that every operand carries or
/// is broadcast along; -1 when none can (the region is one iteration).
int64_t singleOpParallelDim(mlir::Operation *op);

/// Where the parallel axis lies in operand `i` of `op` when it lies at
/// `resultDim` of its result: -1 when the operand does not carry it (a
/// broadcast operand, a layer norm's scale) or it cannot be traced.
int64_t operandParallelDim(mlir::Operation *op, unsigned i, int64_t resultDim, int64_t rows);

/// The attribute that records a value's parallel dim inside a region.
constexpr const char *kParallelDimAttr = "kiln.parallel_dim";

} // namespace kiln

#endif // KILN_TRANSFORMS_PARALLELAXIS_H
