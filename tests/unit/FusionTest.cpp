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
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
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
  // What kiln-fuse left outside its regions goes into regions of its own;
  // resize_bilinear becomes GEMMs (the phases after kiln-fuse).
  OwningOpRef<ModuleOp> codegen = fused.clone();
  if (!test::runPipeline(*codegen, "func.func(kiln-single-op-regions,kiln-decompose-resize)") ||
      !writeArtifact(*codegen, dir, {}, error)) {
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
  for (auto [group, kind] : {std::pair{&b.params, "param"}, {&b.state, "state"}})
    for (auto &[pname, t] : *group)
      for (int64_t i = 0; i < t.size(); ++i)
        exec->as<float>(exec->bufferNamed(pname, kind))[i] = static_cast<float>(t.data[i]);
  for (const auto &sched : m.schedules)
    *exec->as<float>(sched.buffer) = static_cast<float>(b.schedules.at(sched.name));
  int program = exec->program("train_step");
  exec->run(program);
  double worst = std::fabs(*exec->as<float>(exec->sinkBuffer(program, "loss", "loss")) - want.loss) /
                 std::max(1.0, std::fabs(want.loss));
  auto compare = [&](const float *got, const RefTensor &t) {
    for (int64_t i = 0; i < t.size(); ++i)
      worst = std::max(worst, std::fabs(got[i] - t.data[i]) / std::max(1.0, std::fabs(t.data[i])));
  };
  // Every output (the gradients), updated parameter and state tensor.
  for (auto &[oname, t] : want.outputs)
    compare(exec->as<float>(exec->sinkBuffer(program, "output", oname)), t);
  for (auto &[pname, t] : want.params)
    compare(exec->as<float>(exec->bufferNamed(pname, "param")), t);
  for (auto &[sname, t] : want.state)
    compare(exec->as<float>(exec->bufferNamed(sname, "state")), t);
  std::filesystem::remove_all(dir);
  EXPECT_LT(worst, tolerance) << name;
  return worst;
}

class FusedOp : public ::testing::TestWithParam<test::OpCase> {};

TEST_P(FusedOp, MatchesUnfusedReference) {
  const test::OpCase &c = GetParam();
  std::mt19937 rng(321);
  auto unfused = test::stepOf(c.shapes(rng), c.body);
  ASSERT_TRUE(test::runPipeline(*unfused, "func.func(kiln-lower-batch-norm,kiln-autodiff),canonicalize,cse"));
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

/// Rows longer than any vector or block (1537, odd) and logits of ±60
/// (e^60 overflows f32 without max-subtraction): softmax cross-entropy and
/// its gradient, fused.
TEST(Fusion, LongRowsAndExtremeLogits) {
  auto unfused = test::stepOf({{7, 1537}}, [](KilnBuilder &k, ArrayRef<Value> p) -> Value {
    Value logits = k.mul(p[0], k.scalar(60.0));
    OpBuilder &b = k.builder();
    Value lsm = b.create<LogSoftmaxOp>(k.location(), ValueRange{logits},
                                       ArrayRef<NamedAttribute>{b.getNamedAttr("axis", b.getI64IntegerAttr(1))});
    Value sm = b.create<SoftmaxOp>(k.location(), ValueRange{logits},
                                   ArrayRef<NamedAttribute>{b.getNamedAttr("axis", b.getI64IntegerAttr(1))});
    return k.add(lsm, sm);
  });
  ASSERT_TRUE(test::runPipeline(*unfused, "func.func(kiln-lower-batch-norm,kiln-autodiff),canonicalize,cse"));
  OwningOpRef<ModuleOp> fused = unfused->clone();
  ASSERT_TRUE(test::runPipeline(*fused, "func.func(kiln-fuse)"));
  std::mt19937 rng(5);
  StepBindings b = test::randomBindings(*unfused, rng);
  for (auto *group : {&b.params, &b.inputs})
    for (auto &[n, t] : *group)
      for (double &v : t.data)
        v = static_cast<float>(v);
  StepResults want = test::evaluate(*unfused, b);
  ASSERT_TRUE(std::isfinite(want.loss));
  std::cout << "[fused] long_rows_extreme_logits " << compareFused(*fused, b, want, "extreme", 1e-4)
            << "\n";
}

/// The whole DINO loss (4 crops, odd K) with its backward, the centre
/// update and an SGD step: the fused forward+backward is at most 3 kernels
/// and matches the unfused evaluator.
TEST(Fusion, DinoLossFusesIntoThreeKernels) {
  std::ifstream in(std::string(KILN_SOURCE_DIR) + "/bench/dino-loss/dino-loss.json");
  nlohmann::json g = nlohmann::json::parse(in);
  g["imports"] = {"lib/losses.json"};
  g["args"] = {{"B", 64}, {"K", 301}, {"ncrops", 4}}; // above the single-iteration size
  g["optimizer"]["lr"] = 0.5;
  auto unfused = test::importText(g.dump(), "train-step");
  ASSERT_TRUE(unfused);
  OwningOpRef<ModuleOp> fused = unfused->clone();
  ASSERT_TRUE(test::runPipeline(*fused, "func.func(kiln-fuse)"));
  // The loss's kernels: regions and ops left outside, less the centre
  // update (reads only the teacher) and the optimizer (reads the gradient).
  int lossKernels = 0;
  test::stepOf(*fused).walk([&](FusionOp f) {
    bool centre = false, optimizer = false;
    for (Value r : f.getResults())
      for (Operation *u : r.getUsers()) {
        // The centre's batch mean is averaged over the ranks first.
        SmallVector<Operation *> sinks{u};
        if (isa<AllReduceOp>(u))
          sinks.assign(u->getUsers().begin(), u->getUsers().end());
        for (Operation *v : sinks) {
          centre |= isa<UpdateStateOp>(v);
          optimizer |= isa<UpdateParamOp>(v);
        }
      }
    lossKernels += !centre && !optimizer;
  });
  EXPECT_LE(lossKernels, 3);
  std::mt19937 rng(8);
  StepBindings b = test::randomBindings(*unfused, rng, -3.0, 3.0);
  b.schedules["teacher_temp"] = static_cast<float>(0.04);
  for (auto *group : {&b.params, &b.inputs, &b.state})
    for (auto &[n, t] : *group)
      for (double &v : t.data)
        v = static_cast<float>(v);
  StepResults want = test::evaluate(*unfused, b);
  std::cout << "[fused] dino_loss " << lossKernels << " kernels, error "
            << compareFused(*fused, b, want, "dino") << "\n";
}

} // namespace
