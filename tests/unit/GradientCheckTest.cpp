//===- GradientCheckTest.cpp - every op's gradient against finite differences
//
// For each differentiable op: random shapes (with broadcasting where the op
// broadcasts), random values, loss Σ op(params)·r; kiln-autodiff's gradient
// must match central differences of the reference evaluator to a relative
// error below 1e-6, in double precision. Each case prints its worst error
// ("[gradcheck] family op error") for the record. Every op with a gradient
// rule must appear in some case: a new op cannot skip the check.
//
//===----------------------------------------------------------------------===//
#include "OpCases.h"
#include "StepTestUtils.h"

#include <gtest/gtest.h>

#include <iostream>
#include <set>

using namespace mlir;
using namespace kiln;

namespace {

using test::OpCase;

class OpGradient : public ::testing::TestWithParam<OpCase> {};

TEST_P(OpGradient, MatchesFiniteDifferences) {
  const OpCase &c = GetParam();
  std::mt19937 rng(1234);
  double worst = 0.0;
  for (int trial = 0; trial < 3; ++trial) {
    auto module = test::stepOf(c.shapes(rng), c.body);
    ASSERT_TRUE(module);
    StepBindings b = test::randomBindings(*module, rng, c.low, c.high);
    worst = std::max(worst, test::gradientError(*module, b));
  }
  std::cout << "[gradcheck] " << c.family << " " << c.name << " " << worst << "\n";
  EXPECT_LT(worst, 1e-6);
}

/// Every registered kiln op that implements GradientOpInterface is built by
/// at least one case (before autodiff, so as the op under test).
TEST(OpGradient, EveryDifferentiableOpHasACase) {
  std::set<std::string> covered;
  std::mt19937 rng(1);
  for (const OpCase &c : test::differentiableOpCases()) {
    auto module = test::stepOf(c.shapes(rng), c.body);
    ASSERT_TRUE(module) << c.name;
    module->walk([&](Operation *op) { covered.insert(op->getName().getStringRef().str()); });
  }
  int differentiable = 0;
  for (RegisteredOperationName name : test::context().getRegisteredOperations()) {
    if (name.getDialectNamespace() != "kiln" || !name.hasInterface<GradientOpInterface>())
      continue;
    ++differentiable;
    EXPECT_TRUE(covered.count(name.getStringRef().str()))
        << name.getStringRef().str() << " has a gradient rule but no case in OpCases.cpp";
  }
  EXPECT_GT(differentiable, 20); // the interface is found at all
}

INSTANTIATE_TEST_SUITE_P(EveryOp, OpGradient, ::testing::ValuesIn(test::differentiableOpCases()),
                         [](const auto &info) { return std::string(info.param.name); });

} // namespace
