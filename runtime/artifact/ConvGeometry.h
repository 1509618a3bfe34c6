//===- ConvGeometry.h - a 2-D convolution's sizes ----------------*- C++ -*-===//
//
// Shared by the dialect (kiln::convGeometry checks and fills it from an
// op's shapes and attributes), the reference evaluator, the planner and
// the runtime's convolution thunks, free of MLIR.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_RUNTIME_ARTIFACT_CONVGEOMETRY_H
#define KILN_RUNTIME_ARTIFACT_CONVGEOMETRY_H

#include <array>
#include <cstdint>
#include <vector>

namespace kiln {

/// Input [n, c, h, w], weight [o, c / groups, kh, kw], result [n, o, ho, wo];
/// result element (i, j) reads input rows i·stride - pad + a·dilation.
struct ConvGeometry {
  int64_t n = 0, c = 0, h = 0, w = 0;
  int64_t o = 0, kh = 0, kw = 0;
  int64_t ho = 0, wo = 0;
  std::array<int64_t, 2> stride{1, 1}, dilation{1, 1};
  std::array<int64_t, 4> pad{0, 0, 0, 0}; // top, left, bottom, right
  int64_t groups = 1;
  /// Multiply-adds times two, of the forward (and of each gradient).
  int64_t flops() const { return 2 * n * o * ho * wo * (c / groups) * kh * kw; }
  /// Every size but the result's (which follow), for keying the plans a
  /// convolution library makes once per geometry.
  std::vector<int64_t> key() const {
    return {n, c, h, w, o, kh, kw, stride[0], stride[1], dilation[0], dilation[1],
            pad[0], pad[1], pad[2], pad[3], groups};
  }
};

} // namespace kiln

#endif // KILN_RUNTIME_ARTIFACT_CONVGEOMETRY_H
