//===- GemmDefinition.h - a Gemm thunk's batch offsets, for tests -*- C++ -*-===//
#ifndef KILN_TESTS_GEMMDEFINITION_H
#define KILN_TESTS_GEMMDEFINITION_H

#include "runtime/artifact/Program.h"

#include <array>

namespace kiln::test {

/// The element offsets of A, B and C in batch matrix `bi` (the thunk's
/// definition: batch dims row-major, each operand with its own strides).
inline std::array<int64_t, 3> gemmOffsets(const GemmCall &t, int64_t bi) {
  std::array<int64_t, 3> off{t.a.offset, t.b.offset, t.c.offset};
  for (int64_t d = (int64_t)t.batch.size() - 1, rest = bi; d >= 0; --d) {
    off[0] += rest % t.batch[d] * t.a.batchStrides[d];
    off[1] += rest % t.batch[d] * t.b.batchStrides[d];
    off[2] += rest % t.batch[d] * t.c.batchStrides[d];
    rest /= t.batch[d];
  }
  return off;
}

} // namespace kiln::test

#endif // KILN_TESTS_GEMMDEFINITION_H
