//===- OpCases.h - one small computation per kiln op, for tests ---*- C++ -*-===//
//
// Shared by GradientCheckTest (finite differences) and KernelTest (CPU
// kernels against the reference evaluator): random shapes, broadcasting
// where the op broadcasts, and a value range the op is defined on.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_TESTS_OPCASES_H
#define KILN_TESTS_OPCASES_H

#include "Kiln/IR/KilnBuilder.h"

#include <functional>
#include <random>
#include <vector>

namespace kiln::test {

using Shape = std::vector<int64_t>;
using Body = std::function<mlir::Value(KilnBuilder &, llvm::ArrayRef<mlir::Value>)>;

struct OpCase {
  const char *family, *name;
  /// Operand shapes for one trial, from random dims.
  std::function<std::vector<Shape>(std::mt19937 &)> shapes;
  Body body;
  double low = -1.0, high = 1.0; // operand values
};

/// Every differentiable op.
const std::vector<OpCase> &differentiableOpCases();

} // namespace kiln::test

#endif // KILN_TESTS_OPCASES_H
