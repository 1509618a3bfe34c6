//===- FusionTest.cpp - fused kernels against the unfused oracle ----------===//
//
// For every op of OpCases: its loss and backward (the chains kiln-fuse
// groups: softmax and its gradient, layer norm and its gradient, ...) are
// fused and compiled; the runtime's loss and gradients must equal the
// reference evaluator's on the *unfused* IR. Also rows longer than any
// block, odd sizes and extreme logits (max-subtraction everywhere).
//
//===----------------------------------------------------------------------===//
#include "OpCases.h"
#include "StepTestUtils.h"

#include "compiler/Artifact/ArtifactWriter.h"
#include "runtime/exec/Executor.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <iostream>
#include <unistd.h>

using namespace mlir;
using namespace kiln;

namespace {

/// Compiles `fused` and runs it on `b`; every gradient output and the loss
/// must match `want` (from the unfused IR) within `tolerance` (relative to
/// max(1, |x|)). Returns the worst error.
double compareFused(ModuleOp fused, const StepBindings &b, const StepResults &want,
                    const std::string &name, double tolerance = 2e-5) {
  std::string dir = std::filesystem::temp_directory_path() /
                    ("kiln-fused-" + std::to_string(::getpid()) + "-" + name + ".kiln");
  std::string error;
  if (!writeArtifact(fused, dir, {}, error)) {
    ADD_FAILURE() << name << ": " << error;
    return INFINITY;
  }
  auto exec = Executor::load(dir, 2, error);
  if (!exec) {
    ADD_FAILURE() << name << ": " << error;
    return INFINITY;
  }
  const Manifest &m = exec->manifest();
  for (const auto &in : m.inputs) {
    const RefTensor &t = b.inputs.at(in.name);
    for (int64_t i = 0; i < t.size(); ++i)
      exec->as<float>(in.buffer)[i] = static_cast<float>(t.data[i]);
  }
  for (auto &[pname, t] : b.params)
    for (int64_t i = 0; i < t.size(); ++i)
      exec->as<float>(exec->bufferNamed(pname, "param"))[i] = static_cast<float>(t.data[i]);
  int program = exec->program("train_step");
  exec->run(program);
  double worst = std::fabs(*exec->as<float>(exec->sinkBuffer(program, "loss", "loss")) - want.loss) /
                 std::max(1.0, std::fabs(want.loss));
  for (auto &[gname, g] : want.gradients) {
    const float *got = exec->as<float>(exec->sinkBuffer(program, "output", "gradient." + gname));
    for (int64_t i = 0; i < g.size(); ++i)
      worst = std::max(worst, std::fabs(got[i] - g.data[i]) / std::max(1.0, std::fabs(g.data[i])));
  }
  std::filesystem::remove_all(dir);
  EXPECT_LT(worst, tolerance) << name;
  return worst;
}

class FusedOp : public ::testing::TestWithParam<test::OpCase> {};

TEST_P(FusedOp, MatchesUnfusedReference) {
  const test::OpCase &c = GetParam();
  std::mt19937 rng(321);
  auto unfused = test::stepOf(c.shapes(rng), c.body);
  ASSERT_TRUE(test::runPipeline(*unfused, "func.func(kiln-autodiff),canonicalize,cse"));
  OwningOpRef<ModuleOp> fused = unfused->clone();
  ASSERT_TRUE(test::runPipeline(*fused, "func.func(kiln-fuse)"));
  StepBindings b = test::randomBindings(*unfused, rng, c.low, c.high);
  for (auto *group : {&b.params, &b.inputs})
    for (auto &[n, t] : *group)
      for (double &v : t.data)
        v = static_cast<float>(v);
  StepResults want = test::evaluate(*unfused, b);
  double worst = compareFused(*fused, b, want, c.name);
  std::cout << "[fused] " << c.name << " " << worst << "\n";
}

INSTANTIATE_TEST_SUITE_P(EveryOp, FusedOp, ::testing::ValuesIn(test::differentiableOpCases()),
                         [](const auto &info) { return std::string(info.param.name); });

} // namespace
