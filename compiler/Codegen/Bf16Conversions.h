//===- Bf16Conversions.h - f32 <-> bf16 as integer arithmetic ----*- C++ -*-===//
//
// The CPU kernels' bf16 loads widen and their stores round to nearest
// even (FusedBody::loadElement/storeElement). LLVM 19's x86 backend calls
// __truncsfbf2 for an fptrunc to bfloat, and also for a select over
// bfloat vectors, which upstream's arith expansion leaves behind for NaN
// after vectorisation; Debian 12's libgcc has no __truncsfbf2. These
// patterns do both conversions on i32/i16 and bitcast only at the end, so
// the kernels never compute on bfloat values.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_CODEGEN_BF16CONVERSIONS_H
#define KILN_CODEGEN_BF16CONVERSIONS_H

#include "mlir/IR/PatternMatch.h"

namespace kiln {

/// arith.extf from bf16 and arith.truncf to bf16 (scalars or vectors) as
/// shifts, adds and selects on integers.
void populateBf16ConversionPatterns(mlir::RewritePatternSet &patterns);

} // namespace kiln

#endif // KILN_CODEGEN_BF16CONVERSIONS_H
