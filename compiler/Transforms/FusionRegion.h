//===- FusionRegion.h - build a kiln.fusion from a set of ops ----*- C++ -*-===//
//
// Shared by kiln-fuse (regions it grew) and kiln-single-op-regions (an op
// alone): the ops move into the body of one kiln.fusion placed after the
// last of them; values read from outside become its inputs (scalar
// constants are cloned inside instead), values read outside its results.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_TRANSFORMS_FUSIONREGION_H
#define KILN_TRANSFORMS_FUSIONREGION_H

#include "Kiln/IR/KilnOps.h"

#include "llvm/ADT/DenseMap.h"

namespace kiln {

/// The attribute kiln-name-regions gives each region: its name.
constexpr llvm::StringLiteral kRegionNameAttr = "name";

/// A region's name (kiln-name-regions), or "fusion" before it ran.
inline std::string regionName(FusionOp f) {
  auto name = f->getAttrOfType<mlir::StringAttr>(kRegionNameAttr);
  return name ? name.str() : "fusion";
}

/// Replaces `ops` (one block, in block order) by a kiln.fusion running
/// `rows` iterations; each op's `kiln.parallel_dim` is `parallelDim` of its
/// first result (-1 when `rows` is 1).
FusionOp buildFusion(llvm::ArrayRef<mlir::Operation *> ops, int64_t rows,
                     const llvm::DenseMap<mlir::Value, int64_t> &parallelDim);

} // namespace kiln

#endif // KILN_TRANSFORMS_FUSIONREGION_H
