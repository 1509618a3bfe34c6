//===- RecomputeTest.cpp - recomputation changes memory, not numbers -----===//
//
// kiln-recompute's clones compute what the forward computed, so one
// training step of a shipped model gives the same loss and the same updated
// parameters (within f32 rounding of regrouped kernels) whether backward
// keeps every activation ("none"), recomputes the cheap ones ("auto") or
// recomputes each checkpointed ViT block ("checkpoint": 1); and the arena
// the step needs shrinks in that order.
//
//===----------------------------------------------------------------------===//
#include "ArtifactTestUtils.h"

#include "runtime/data/Dataset.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>

using namespace kiln;

namespace {

struct StepResult {
  float loss = 0;
  TensorMap params;
  int64_t arenaBytes = 0;
};

/// One step of `model` at batch 8 from its initial parameters and the
/// first batch of Fashion-MNIST.
StepResult oneStep(const data::Dataset &dataset, const std::string &model,
                   const std::string &recompute, const nlohmann::json &patch = nullptr) {
  std::string error;
  std::string dir = test::compileArtifact(model, {{"batch_size", 8}, {"recompute", recompute}},
                                          {}, error, patch);
  EXPECT_FALSE(dir.empty()) << error;
  auto exec = Executor::load(dir, 2, error);
  EXPECT_TRUE(exec) << error;
  if (!exec)
    return {};
  test::feedFirstBatch(*exec, dataset);
  int step = exec->program("train_step");
  exec->run(step);
  StepResult r;
  r.loss = *exec->as<float>(exec->sinkBuffer(step, "loss", "loss"));
  r.params = exec->tensors("param");
  r.arenaBytes = exec->manifest().compiled.programs[step].arenaBytes;
  std::filesystem::remove_all(dir);
  return r;
}

/// The largest |a - b| / (1 + |b|) over every parameter after the step.
double worstDifference(const StepResult &a, const StepResult &b) {
  double worst = 0;
  for (const auto &[name, t] : b.params) {
    const auto &u = a.params.at(name);
    auto *x = reinterpret_cast<const float *>(u.data.data());
    auto *y = reinterpret_cast<const float *>(t.data.data());
    for (size_t i = 0; i < t.data.size() / sizeof(float); ++i)
      worst = std::max(worst, std::fabs(double(x[i]) - y[i]) / (1 + std::fabs(double(y[i]))));
  }
  return worst;
}

class Recompute : public ::testing::TestWithParam<const char *> {};

TEST_P(Recompute, SameStepWithLessMemory) {
  data::Dataset dataset;
  std::string error;
  if (!data::loadIdxDataset(data::kFashionMnistDir, dataset, error))
    GTEST_SKIP() << "Fashion-MNIST is not installed: " << error;
  std::string model = GetParam();
  std::string network = model.find("dino") != std::string::npos ? "student" : "net";
  StepResult kept = oneStep(dataset, model, "none");
  StepResult cheap = oneStep(dataset, model, "auto");
  StepResult blocks = oneStep(dataset, model, "none",
                              {{"networks", {{network, {{"args", {{"checkpoint", 1}}}}}}}});
  ASSERT_FALSE(kept.params.empty());
  ASSERT_EQ(cheap.params.size(), kept.params.size());
  ASSERT_EQ(blocks.params.size(), kept.params.size());
  // Regrouped kernels may round differently; a wrong clone moves far more.
  EXPECT_NEAR(cheap.loss, kept.loss, 1e-6 * std::fabs(kept.loss));
  EXPECT_NEAR(blocks.loss, kept.loss, 1e-6 * std::fabs(kept.loss));
  EXPECT_LE(worstDifference(cheap, kept), 1e-6);
  EXPECT_LE(worstDifference(blocks, kept), 1e-6);
  EXPECT_LT(cheap.arenaBytes, kept.arenaBytes);
  EXPECT_LT(blocks.arenaBytes, kept.arenaBytes);
  std::cout << "[recompute] " << model << " arena MB: none " << kept.arenaBytes / 1e6 << ", auto "
            << cheap.arenaBytes / 1e6 << ", checkpoint " << blocks.arenaBytes / 1e6 << "\n";
}

INSTANTIATE_TEST_SUITE_P(ShippedModels, Recompute,
                         ::testing::Values("models/vit-fm-sup.json", "models/vit-fm-dino.json"),
                         [](const auto &info) {
                           std::string s = std::filesystem::path(info.param).stem().string();
                           std::replace(s.begin(), s.end(), '-', '_');
                           return s;
                         });

} // namespace
