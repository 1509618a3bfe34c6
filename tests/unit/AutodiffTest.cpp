//===- AutodiffTest.cpp - kiln-autodiff on whole graphs -------------------===//
//
// What the per-op checks cannot show: one set of weights used at several
// call sites with different shapes, and which parameters get gradients.
//
//===----------------------------------------------------------------------===//
#include "StepTestUtils.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <fstream>
#include <iostream>
#include <set>

using namespace mlir;
using namespace kiln;
using nlohmann::json;

namespace {

/// A tiny vit_fm (8x8 images, patch 4, dim 8, one block) as "student", an
/// EMA "teacher" of it and a frozen "judge"; `nodes` is the objective.
std::string dinoLikeGraph(const json &nodes) {
  json tiny = {{"img", 8}, {"patch", 4}, {"dim", 8}, {"depth", 1}, {"heads", 2}};
  json g = {
      {"kiln", 1},
      {"name", "autodiff-test"},
      {"imports", {"lib/vit.json"}},
      {"data", {{"dataset", "fashion-mnist"}}},
      {"modules", {{"tiny", {{"inputs", {"x"}},
                             {"nodes", {{{"id", "f"}, {"op", "call"}, {"module", "vit_fm"},
                                         {"in", {"x"}}, {"args", tiny}}}},
                             {"outputs", {{"f", "f"}}}}}}},
      {"networks", {{"student", {{"module", "tiny"}}},
                    {"teacher", {{"module", "tiny"}, {"ema_of", "student"}, {"momentum", 0.99}}},
                    {"judge", {{"module", "tiny"}, {"frozen", true}}}}},
      {"objective", {{"inputs", {{"global", {{"shape", {2, 1, 8, 8}}}},
                                 {"local", {{"shape", {3, 1, 4, 4}}}}}},
                     {"nodes", nodes},
                     {"loss", "loss"}}},
      {"optimizer", {{"kind", "sgd"}, {"lr", 0.1}}},
      {"train", {{"epochs", 1}, {"batch_size", 2}}}};
  return g.dump();
}

json node(const std::string &id, const std::string &op, json in, json extra = json::object()) {
  json n = {{"id", id}, {"op", op}, {"in", in}};
  n.update(extra);
  return n;
}

/// The DINO student sees 8x8 global and 4x4 local crops with one set of
/// weights (the position embedding resized for the small grid): the
/// gradient is the sum over both call sites.
TEST(Autodiff, SharedWeightsAcrossCropSizes) {
  json nodes = {
      node("g", "call", {"global"}, {{"network", "student"}}),
      node("l", "call", {"local"}, {{"network", "student"}}),
      node("gg", "mul", {"g", "g"}),
      node("sg", "sum", {"gg"}, {{"axes", {0, 1}}}),
      node("sl", "sum", {"l"}, {{"axes", {0, 1}}}),
      node("loss", "add", {"sg", "sl"})};
  auto module = test::importText(dinoLikeGraph(nodes), "simplify");
  ASSERT_TRUE(module);
  std::mt19937 rng(11);
  StepBindings b = test::randomBindings(*module, rng, -0.5, 0.5);
  double err = test::gradientError(*module, b);
  std::cout << "[gradcheck] graph shared_weights_two_crop_sizes " << err << "\n";
  EXPECT_LT(err, 1e-6);
}

/// Only trained parameters get a kiln.gradient: not the EMA teacher, not
/// the frozen network, whether or not a stop_gradient guards them.
TEST(Autodiff, OnlyTrainedParametersGetGradients) {
  json nodes = {
      node("s", "call", {"global"}, {{"network", "student"}}),
      node("t", "call", {"global"}, {{"network", "teacher"}}),
      node("j", "call", {"global"}, {{"network", "judge"}}),
      node("t_stop", "stop_gradient", {"t"}),
      node("st", "mul", {"s", "t_stop"}),
      node("sj", "mul", {"s", "j"}),
      node("all", "add", {"st", "sj"}),
      node("loss", "sum", {"all"}, {{"axes", {0, 1}}})};
  auto module = test::importText(dinoLikeGraph(nodes), "simplify");
  ASSERT_TRUE(module);
  ASSERT_TRUE(test::runPipeline(*module, "func.func(kiln-autodiff),canonicalize,cse"));
  std::set<std::string> params, grads;
  test::stepOf(*module).walk([&](Operation *op) {
    if (auto p = dyn_cast<ParamOp>(op); p && p.getName().starts_with("student."))
      params.insert(p.getName().str());
    if (auto g = dyn_cast<GradientOp>(op))
      grads.insert(g.getName().str());
  });
  EXPECT_FALSE(params.empty());
  EXPECT_EQ(grads, params);
}

/// A loss that no trained parameter reaches is an error, not a silent no-op.
TEST(Autodiff, LossWithoutTrainedParametersIsAnError) {
  json nodes = {node("j", "call", {"global"}, {{"network", "judge"}}),
                node("loss", "sum", {"j"}, {{"axes", {0, 1}}})};
  auto module = test::importText(dinoLikeGraph(nodes), "simplify");
  ASSERT_TRUE(module);
  std::string message;
  ScopedDiagnosticHandler handler(&test::context(), [&](Diagnostic &d) {
    message += d.str();
    return success();
  });
  EXPECT_FALSE(test::runPipeline(*module, "func.func(kiln-autodiff)"));
  EXPECT_NE(message.find("does not depend on any trained parameter"), std::string::npos)
      << message;
}

} // namespace

namespace {

/// The shipped supervised model at batch 2: autodiff against central
/// differences on a sample of parameter elements from every tensor.
TEST(Autodiff, ShippedSupervisedModelSample) {
  std::ifstream in(std::string(KILN_SOURCE_DIR) + "/models/vit-fm-sup.json");
  json g = json::parse(in);
  g["train"]["batch_size"] = 2;
  auto module = test::importText(g.dump(), "simplify");
  ASSERT_TRUE(module);
  std::mt19937 rng(5);
  StepBindings b = test::randomBindings(*module, rng, -0.5, 0.5, 10);
  OwningOpRef<ModuleOp> withGrads = module->clone();
  ASSERT_TRUE(test::runPipeline(*withGrads, "func.func(kiln-autodiff),canonicalize,cse"));
  StepResults ad = test::evaluate(*withGrads, b);
  double worst = 0.0;
  const double h = 1e-6;
  for (auto &[name, value] : b.params) {
    ASSERT_TRUE(ad.gradients.count(name)) << name;
    size_t i = rng() % value.data.size();
    StepBindings plus = b, minus = b;
    plus.params[name].data[i] += h;
    minus.params[name].data[i] -= h;
    double fd = (test::evaluate(*module, plus).loss - test::evaluate(*module, minus).loss) / (2 * h);
    double g = ad.gradients[name].data[i];
    // Relative to the tensor's gradient scale, so that a near-zero element
    // does not inflate the error.
    double scale = 0.0;
    for (double v : ad.gradients[name].data)
      scale = std::max(scale, std::fabs(v));
    worst = std::max(worst, std::fabs(g - fd) / std::max(scale, 1e-12));
  }
  std::cout << "[gradcheck] graph vit-fm-sup_sample " << worst << "\n";
  EXPECT_LT(worst, 1e-6);
}

} // namespace
