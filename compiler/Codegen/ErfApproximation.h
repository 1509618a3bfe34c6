//===- ErfApproximation.h - erf as one rational function ----------*- C++ -*-===//
//
// GELU and its gradient evaluate erf on every activation of a ViT's MLP,
// the largest elementwise cost of its step. Upstream's polynomial
// approximation picks one of three rational functions per element by
// blends of their coefficients (in vectorised code: about 75 instructions
// for 8 elements, a third of them reloading constants), so the kernels'
// erf is this single rational function instead: clamp, x·P(x²)/Q(x²) by
// fused multiply-adds, clamp to [-1, 1] (within 6 ulp of erf; upstream's
// 4.3; ErfApproximationTest). scripts/fit-erf.py fits the coefficients.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_CODEGEN_ERFAPPROXIMATION_H
#define KILN_CODEGEN_ERFAPPROXIMATION_H

#include "mlir/IR/PatternMatch.h"

namespace kiln {

/// math.erf on f32 (scalars or vectors) as one rational function; it takes
/// precedence over upstream's populateMathPolynomialApproximationPatterns.
void populateErfApproximationPatterns(mlir::RewritePatternSet &patterns);

} // namespace kiln

#endif // KILN_CODEGEN_ERFAPPROXIMATION_H
