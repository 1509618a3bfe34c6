//===- LossScalingTest.cpp - fp16 dynamic loss scaling -------------------===//
//
// A step whose loss is Σ w·x, so the gradient is the input x, compiled with
// precision fp16 (kiln-scale-loss, autodiff, kiln-unscale-gradients,
// clipping, the optimizer) and run on the reference evaluator. Against
// torch.cuda.amp.GradScaler's rules written out here: the optimizer sees
// x (not scale·x); an inf or NaN in any gradient leaves parameters and
// optimizer state as they were, halves the scale and restarts the growth
// count; growth_interval clean steps double it unless that overflows f32.
// Then the same through the real compiler and runtime, with an inf
// injected into a batch of the shipped supervised ViT.
//
//===----------------------------------------------------------------------===//
#include "ArtifactTestUtils.h"
#include "StepTestUtils.h"

#include "mlir/Parser/Parser.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <limits>

using namespace mlir;
using namespace kiln;

namespace {

using Vec = std::vector<double>;
constexpr const char *kScale = "fp16_scaler.scale";
constexpr const char *kTracker = "fp16_scaler.growth_tracker";

/// The step with `optimizer` as kiln.optimizer, in `precision`, growth
/// every 3 clean steps.
OwningOpRef<ModuleOp> compiledStep(const std::string &optimizer,
                                   const std::string &precision = "fp16") {
  std::string text = R"(
module attributes {kiln.optimizer = )" + optimizer + R"(,
    kiln.train = {precision = ")" + precision + R"(", loss_scale = {growth_interval = 3 : i64}}} {
  func.func @objective() {
    %w = kiln.param "net.w" {init = {kind = "zeros"}} : tensor<2x3xf32>
    %x = kiln.input "x" : tensor<2x3xf32>
    %wx = kiln.mul %w, %x : tensor<2x3xf32>, tensor<2x3xf32>
    %l = kiln.sum %wx {axes = array<i64: 0, 1>} : tensor<2x3xf32>
    kiln.loss %l : tensor<f32>
    return
  }
})";
  OwningOpRef<ModuleOp> module = parseSourceString<ModuleOp>(text, &test::context());
  EXPECT_TRUE(module);
  EXPECT_TRUE(test::runPipeline(*module, "kiln-scale-loss,func.func(kiln-autodiff),"
                                         "kiln-unscale-gradients,kiln-clip-gradients,"
                                         "kiln-lower-optimizer,canonicalize,cse"));
  return module;
}

/// Random w, x and optimizer state; the scale `scale` after `clean` clean steps.
StepBindings bindings(ModuleOp module, double scale, double clean) {
  std::mt19937 rng(7);
  StepBindings b = test::randomBindings(module, rng);
  b.state[kScale].data = {scale};
  b.state[kTracker].data = {clean};
  for (auto &[name, t] : b.state)
    if (name.rfind("optimizer.step", 0) == 0)
      t.data = {5.0};
    else if (name.rfind("optimizer.exp_avg_sq", 0) == 0)
      for (double &v : t.data)
        v = std::fabs(v);
  return b;
}

TEST(LossScaling, OptimizerSeesTheUnscaledGradient) {
  auto module = compiledStep(R"({kind = "sgd", lr = 0.5, momentum = 0.9})");
  StepBindings b = bindings(*module, 1024.0, 0.0);
  StepResults r = test::evaluate(*module, b);
  const Vec &w = b.params.at("net.w").data, &x = b.inputs.at("x").data;
  const Vec &buf = b.state.at("optimizer.momentum_buffer.net.w").data;
  for (size_t i = 0; i < w.size(); ++i) {
    double next = 0.9 * buf[i] + x[i];
    EXPECT_NEAR(r.state.at("optimizer.momentum_buffer.net.w").data[i], next, 1e-6);
    EXPECT_NEAR(r.params.at("net.w").data[i], w[i] - 0.5 * next, 1e-6);
    EXPECT_NEAR(r.outputs.at("gradient.net.w").data[i], x[i], 1e-6); // `kiln run --grads`
  }
  EXPECT_EQ(r.metrics.at("loss_scale"), 1024.0);
  EXPECT_EQ(r.state.at(kScale).scalar(), 1024.0);
  EXPECT_EQ(r.state.at(kTracker).scalar(), 1.0);
}

TEST(LossScaling, NonFiniteGradientSkipsTheStepAndBacksOff) {
  auto module = compiledStep(R"({kind = "adamw", lr = 0.1, weight_decay = 0.05})");
  for (double poison : {std::numeric_limits<double>::infinity(),
                        -std::numeric_limits<double>::infinity(),
                        std::numeric_limits<double>::quiet_NaN()}) {
    StepBindings b = bindings(*module, 1024.0, 2.0);
    b.inputs["x"].data[4] = poison;
    StepResults r = test::evaluate(*module, b);
    EXPECT_EQ(r.params.at("net.w").data, b.params.at("net.w").data) << poison;
    for (const char *s : {"optimizer.exp_avg.net.w", "optimizer.exp_avg_sq.net.w", "optimizer.step"})
      EXPECT_EQ(r.state.at(s).data, b.state.at(s).data) << s << " after " << poison;
    EXPECT_EQ(r.state.at(kScale).scalar(), 512.0) << poison;
    EXPECT_EQ(r.state.at(kTracker).scalar(), 0.0) << poison;
  }
}

TEST(LossScaling, GrowsAfterGrowthIntervalCleanSteps) {
  auto module = compiledStep(R"({kind = "sgd", lr = 0.5})");
  StepBindings b = bindings(*module, 1024.0, 2.0); // this is the 3rd clean step
  StepResults r = test::evaluate(*module, b);
  EXPECT_EQ(r.state.at(kScale).scalar(), 2048.0);
  EXPECT_EQ(r.state.at(kTracker).scalar(), 0.0);
  EXPECT_NE(r.params.at("net.w").data, b.params.at("net.w").data);
}

TEST(LossScaling, KeepsTheScaleWhereGrowingWouldOverflow) {
  auto module = compiledStep(R"({kind = "sgd", lr = 0.5})");
  double top = std::ldexp(1.0, 127); // ×2 is past f32's largest
  StepBindings b = bindings(*module, top, 2.0);
  StepResults r = test::evaluate(*module, b);
  EXPECT_EQ(r.state.at(kScale).scalar(), top);
  EXPECT_EQ(r.state.at(kTracker).scalar(), 0.0);
}

/// clip_grad_norm_ after scaler.unscale_: the norm of x, not of scale·x.
TEST(LossScaling, UnscalesBeforeClipping) {
  auto module = compiledStep(R"({kind = "sgd", lr = 1.0, clip = {kind = "global_norm", max_norm = 0.5}})");
  StepBindings b = bindings(*module, 4096.0, 0.0);
  StepResults r = test::evaluate(*module, b);
  const Vec &w = b.params.at("net.w").data, &x = b.inputs.at("x").data;
  double norm = 0;
  for (double v : x)
    norm += v * v;
  double c = std::min(1.0, 0.5 / (std::sqrt(norm) + 1e-6));
  for (size_t i = 0; i < w.size(); ++i)
    EXPECT_NEAR(r.params.at("net.w").data[i], w[i] - c * x[i], 1e-6);
}

TEST(LossScaling, OnlyForFp16) {
  for (const char *precision : {"bf16", "f32"}) {
    auto module = compiledStep(R"({kind = "sgd", lr = 0.5})", precision);
    std::mt19937 rng(7);
    StepBindings b = test::randomBindings(*module, rng);
    EXPECT_EQ(b.state.count(kScale), 0u) << precision;
    EXPECT_EQ(b.state.count(kTracker), 0u) << precision;
  }
}

/// vit-fm-sup in fp16, compiled (f16 kernels, GEMMs widened to sgemm) and
/// run by the runtime: an inf pixel makes the loss and every gradient NaN,
/// so that step keeps every parameter and optimizer state bit for bit and
/// halves the scale; with the pixel restored, growth_interval (2) clean
/// steps update the parameters and double the scale back.
TEST(LossScaling, CompiledStepSkipsAnInjectedInfinity) {
  data::Dataset dataset;
  std::string error;
  if (!data::loadIdxDataset(data::kFashionMnistDir, dataset, error))
    GTEST_SKIP() << "Fashion-MNIST is not installed: " << error;
  std::string dir = test::compileArtifact(
      "models/vit-fm-sup.json",
      {{"batch_size", 8}, {"precision", "fp16"},
       {"loss_scale", {{"init_scale", 1024}, {"growth_interval", 2}}}},
      {}, error);
  ASSERT_FALSE(dir.empty()) << error;
  auto exec = Executor::load(dir, 2, error);
  ASSERT_TRUE(exec) << error;
  test::feedFirstBatch(*exec, dataset);
  int step = exec->program("train_step");
  auto stateScalar = [&](const char *name) {
    float v;
    std::memcpy(&v, exec->tensors("state").at(name).data.data(), sizeof v);
    return v;
  };
  // What the optimizer owns: parameters and its state.
  auto trained = [&] {
    TensorMap t = exec->tensors("param");
    for (auto &[name, s] : exec->tensors("state"))
      if (name.rfind("optimizer.", 0) == 0)
        t["state:" + name] = s;
    return t;
  };
  float *pixels = nullptr;
  for (const auto &in : exec->manifest().inputs)
    if (in.program == "train_step" && in.source != "label")
      pixels = exec->as<float>(in.buffer);
  ASSERT_TRUE(pixels);

  float clean = pixels[0];
  pixels[0] = std::numeric_limits<float>::infinity();
  TensorMap before = trained();
  exec->run(step);
  TensorMap after = trained();
  for (auto &[name, t] : before)
    EXPECT_EQ(after.at(name).data, t.data) << name << " changed in a skipped step";
  EXPECT_EQ(stateScalar(kScale), 512.0f);
  EXPECT_EQ(stateScalar(kTracker), 0.0f);

  pixels[0] = clean;
  exec->run(step);
  EXPECT_NE(trained().at("net.head.weight").data, after.at("net.head.weight").data);
  EXPECT_EQ(stateScalar(kScale), 512.0f);
  EXPECT_EQ(stateScalar(kTracker), 1.0f);
  exec->run(step);
  EXPECT_EQ(stateScalar(kScale), 1024.0f);
  EXPECT_EQ(stateScalar(kTracker), 0.0f);
  std::filesystem::remove_all(dir);
}

} // namespace
