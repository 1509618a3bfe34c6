//===- LossTest.cpp - the shipped losses: value and gradient --------------===//
//
// Each loss module of models/lib/losses.json, imported from a small graph
// whose "free" network holds the loss's differentiable inputs as
// parameters. The loss value is checked against a closed form written here
// in plain C++ (following the reference code in
// ../shared/reference/objectives.md), and kiln-autodiff's gradient against
// finite differences (relative error < 1e-6, double precision).
//
//===----------------------------------------------------------------------===//
#include "StepTestUtils.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <iostream>

using namespace mlir;
using namespace kiln;
using nlohmann::json;

namespace {

/// A graph: network "x" holds `params` (name -> shape); the objective has
/// `inputs`, `nodes` (after the call of x) and `extra` sections.
std::string graph(const json &params, const json &inputs, const json &nodes,
                  const json &extra = json::object()) {
  json freeParams = json::object(), outputs = json::object();
  for (auto &[name, shape] : params.items()) {
    freeParams[name] = {{"shape", shape}, {"init", {{"kind", "zeros"}}}};
    outputs[name] = name;
  }
  json objNodes = json::array({{{"id", "x"}, {"op", "call"}, {"network", "x"}, {"in", json::array()}}});
  for (const json &n : nodes.is_array() ? nodes : json::array({nodes}))
    objNodes.push_back(n);
  json g = {{"kiln", 1},
            {"name", "loss-test"},
            {"imports", {"lib/losses.json"}},
            {"data", {{"dataset", "fashion-mnist"}}},
            {"modules", {{"free", {{"inputs", json::array()}, {"params", freeParams},
                                   {"nodes", json::array()}, {"outputs", outputs}}}}},
            {"networks", {{"x", {{"module", "free"}}}}},
            {"objective", {{"inputs", inputs}, {"nodes", objNodes}, {"loss", "loss"}}},
            {"optimizer", {{"kind", "sgd"}, {"lr", 0.1}}},
            {"train", {{"epochs", 1}, {"batch_size", 4}}}};
  for (auto &[k, v] : extra.items())
    g[k] = v;
  return g.dump();
}

json call(const std::string &id, const std::string &module, json in, json args = nullptr) {
  json n = {{"id", id}, {"op", "call"}, {"module", module}, {"in", in}};
  if (!args.is_null())
    n["args"] = args;
  return n;
}

/// Row-wise log-softmax of a (rows, cols) matrix, optionally scaled first.
std::vector<double> logSoftmax(const std::vector<double> &x, int64_t cols, double scale = 1.0) {
  std::vector<double> out(x.size());
  for (size_t r = 0; r < x.size() / cols; ++r) {
    double m = -INFINITY, s = 0.0;
    for (int64_t c = 0; c < cols; ++c)
      m = std::max(m, x[r * cols + c] * scale);
    for (int64_t c = 0; c < cols; ++c)
      s += std::exp(x[r * cols + c] * scale - m);
    for (int64_t c = 0; c < cols; ++c)
      out[r * cols + c] = x[r * cols + c] * scale - m - std::log(s);
  }
  return out;
}

/// Imports, checks the loss value against `expected(bindings)` and the
/// gradient against finite differences; prints the gradient error.
void check(const std::string &name, const std::string &text,
           const std::function<double(const StepBindings &)> &expected,
           const std::function<void(StepBindings &)> &adjust = nullptr) {
  auto module = test::importText(text, "simplify");
  ASSERT_TRUE(module) << text;
  std::mt19937 rng(7);
  StepBindings b = test::randomBindings(*module, rng, -1.0, 1.0, 5, 0.04);
  if (adjust)
    adjust(b);
  StepResults r = test::evaluate(*module, b);
  double want = expected(b);
  // Graph constants (0.1, 1/√2, ...) are f32, so values agree to ~1e-8.
  EXPECT_NEAR(r.loss, want, 1e-7 * std::max(1.0, std::fabs(want))) << name;
  double err = test::gradientError(*module, b);
  std::cout << "[gradcheck] loss " << name << " " << err << "\n";
  EXPECT_LT(err, 1e-6) << name;
}

constexpr int64_t B = 4, C = 5;

TEST(Loss, CrossEntropy) {
  check("cross_entropy",
        graph({{"logits", {B, C}}}, {{"label", {{"shape", {B}}, {"dtype", "i32"}}}},
              {call("loss", "cross_entropy", {"x.logits", "label"}, {{"classes", C}})}),
        [](const StepBindings &b) {
          auto lp = logSoftmax(b.params.at("x.logits").data, C);
          double s = 0.0;
          for (int64_t i = 0; i < B; ++i)
            s -= lp[i * C + static_cast<int64_t>(b.inputs.at("label").data[i])];
          return s / B;
        });
}

TEST(Loss, SoftTargetCrossEntropy) {
  check("soft_cross_entropy",
        graph({{"logits", {B, C}}, {"target", {B, C}}}, json::object(),
              {call("loss", "soft_cross_entropy", {"x.logits", "x.target"})}),
        [](const StepBindings &b) {
          auto lp = logSoftmax(b.params.at("x.logits").data, C);
          const auto &t = b.params.at("x.target").data;
          double s = 0.0;
          for (int64_t i = 0; i < B * C; ++i)
            s -= t[i] * lp[i];
          return s / B;
        });
}

/// KL(p_a ‖ p_b) + KL(p_b ‖ p_a), batch mean (DDGSD's symmetric term).
TEST(Loss, KlDivergenceBothWays) {
  json nodes = {{{"id", "la"}, {"op", "log_softmax"}, {"in", {"x.a"}}, {"axis", -1}},
                {{"id", "lb"}, {"op", "log_softmax"}, {"in", {"x.b"}}, {"axis", -1}},
                call("ab", "kl_div", {"la", "lb"}),
                call("ba", "kl_div", {"lb", "la"}),
                {{"id", "loss"}, {"op", "add"}, {"in", {"ab", "ba"}}}};
  check("kl_div_both_ways", graph({{"a", {B, C}}, {"b", {B, C}}}, json::object(), nodes),
        [](const StepBindings &b) {
          auto la = logSoftmax(b.params.at("x.a").data, C);
          auto lb = logSoftmax(b.params.at("x.b").data, C);
          double s = 0.0;
          for (int64_t i = 0; i < B * C; ++i)
            s += std::exp(la[i]) * (la[i] - lb[i]) + std::exp(lb[i]) * (lb[i] - la[i]);
          return s / B;
        });
}

TEST(Loss, MmdOfFeatureMeans) {
  constexpr int64_t D = 6;
  check("mmd_mean",
        graph({{"a", {B, D}}, {"b", {B, D}}}, json::object(),
              {call("loss", "mmd_mean", {"x.a", "x.b"})}),
        [](const StepBindings &b) {
          const auto &a = b.params.at("x.a").data, &c = b.params.at("x.b").data;
          double s = 0.0;
          for (int64_t d = 0; d < D; ++d) {
            double diff = 0.0;
            for (int64_t i = 0; i < B; ++i)
              diff += (a[i * D + d] - c[i * D + d]) / B;
            s += diff * diff;
          }
          return s;
        });
}

/// DINOLoss.forward with 2 global + 2 local crops: pairs v ≠ iq only,
/// teacher centred and sharpened by the scheduled temperature.
TEST(Loss, DinoMultiCrop) {
  constexpr int64_t V = 4, K = 6;
  json inputs = {{"teacher", {{"shape", {2 * B, K}}}}, {"center", {{"shape", {1, K}}}}};
  json text = json::parse(graph(
      {{"student", {V * B, K}}}, inputs,
      {call("loss", "dino_loss", {"x.student", "teacher", "center", "temp"},
            {{"ncrops", V}})}));
  text["schedules"] = {{"temp", {{"kind", "constant"}, {"value", 0.04}}}};
  check("dino_loss", text.dump(), [](const StepBindings &b) {
    const auto &s = b.params.at("x.student").data, &t = b.inputs.at("teacher").data,
               &c = b.inputs.at("center").data;
    double tau = b.schedules.at("temp");
    auto lp = logSoftmax(s, K, 1.0 / 0.1);
    std::vector<double> centred(t.size());
    for (size_t i = 0; i < t.size(); ++i)
      centred[i] = t[i] - c[i % K];
    auto lq = logSoftmax(centred, K, 1.0 / tau);
    double total = 0.0;
    int n = 0;
    for (int64_t iq = 0; iq < 2; ++iq)
      for (int64_t v = 0; v < V; ++v) {
        if (v == iq)
          continue;
        double term = 0.0;
        for (int64_t i = 0; i < B; ++i)
          for (int64_t k = 0; k < K; ++k)
            term -= std::exp(lq[(iq * B + i) * K + k]) * lp[(v * B + i) * K + k];
        total += term / B;
        ++n;
      }
    EXPECT_EQ(n, 2 * V - 2);
    return total / n;
  });
}

/// The centre is updated from the raw teacher outputs, after the loss:
/// this step's loss reads the old centre.
TEST(Loss, DinoCenterUpdate) {
  constexpr int64_t K = 6;
  json text = json::parse(graph(
      {{"student", {4 * B, K}}}, {{"teacher", {{"shape", {2 * B, K}}}}},
      {call("loss", "dino_loss", {"x.student", "teacher", "center", "temp"}, {{"ncrops", 4}}),
       call("next_center", "dino_center", {"teacher", "center"}, {{"momentum", 0.9}})}));
  text["schedules"] = {{"temp", {{"kind", "constant"}, {"value", 0.04}}}};
  text["state"] = {{"center", {{"shape", {1, K}}, {"init", {{"kind", "zeros"}}}}}};
  text["objective"]["state_updates"] = {{"center", "next_center"}};
  auto module = test::importText(text.dump(), "simplify");
  ASSERT_TRUE(module);
  std::mt19937 rng(3);
  StepBindings b = test::randomBindings(*module, rng);
  StepResults r = test::evaluate(*module, b);
  const auto &t = b.inputs.at("teacher").data, &c = b.state.at("center").data;
  for (int64_t k = 0; k < K; ++k) {
    double mean = 0.0;
    for (int64_t i = 0; i < 2 * B; ++i)
      mean += t[i * K + k] / (2 * B);
    EXPECT_NEAR(r.state.at("center").data[k], c[k] * 0.9 + mean * 0.1, 1e-6) << k;
  }
}

/// Kendall et al. with s = log σ²: a regression task (c = ½, MSE) and a
/// classification task (c = 1, the paper's form, CE).
TEST(Loss, UncertaintyWeightedMultiTask) {
  constexpr int64_t P = 3;
  json inputs = {{"label", {{"shape", {B}}, {"dtype", "i32"}}}, {"target", {{"shape", {B, P}}}}};
  json nodes = {
      call("ce", "cross_entropy", {"x.logits", "label"}, {{"classes", C}}),
      {{"id", "err"}, {"op", "sub"}, {"in", {"x.rec", "target"}}},
      {{"id", "sq"}, {"op", "mul"}, {"in", {"err", "err"}}},
      {{"id", "mse"}, {"op", "mean"}, {"in", {"sq"}}, {"axes", {0, 1}}},
      call("t_cls", "uncertainty_term", {"ce", "x.s_cls"}, {{"c", 1.0}}),
      call("t_reg", "uncertainty_term", {"mse", "x.s_reg"}, {{"c", 0.5}}),
      {{"id", "loss"}, {"op", "add"}, {"in", {"t_cls", "t_reg"}}}};
  check("uncertainty_weighted",
        graph({{"logits", {B, C}}, {"rec", {B, P}}, {"s_cls", json::array()},
               {"s_reg", json::array()}},
              inputs, nodes),
        [](const StepBindings &b) {
          auto lp = logSoftmax(b.params.at("x.logits").data, C);
          double ce = 0.0, mse = 0.0;
          for (int64_t i = 0; i < B; ++i)
            ce -= lp[i * C + static_cast<int64_t>(b.inputs.at("label").data[i])] / B;
          for (int64_t i = 0; i < B * P; ++i) {
            double e = b.params.at("x.rec").data[i] - b.inputs.at("target").data[i];
            mse += e * e / (B * P);
          }
          double sc = b.params.at("x.s_cls").scalar(), sr = b.params.at("x.s_reg").scalar();
          return std::exp(-sc) * ce + 0.5 * sc + 0.5 * std::exp(-sr) * mse + 0.5 * sr;
        });
}

/// Hinton KD: T²·KL(softmax(t/T) ‖ softmax(s/T)), teacher without gradient.
TEST(Loss, DistillationWithTemperatureSquared) {
  constexpr double T = 4.0;
  check("kd_loss",
        graph({{"student", {B, C}}}, {{"teacher", {{"shape", {B, C}}}}},
              {call("loss", "kd_loss", {"x.student", "teacher"}, {{"T", T}})}),
        [](const StepBindings &b) {
          auto ls = logSoftmax(b.params.at("x.student").data, C, 1.0 / T);
          auto lt = logSoftmax(b.inputs.at("teacher").data, C, 1.0 / T);
          double s = 0.0;
          for (int64_t i = 0; i < B * C; ++i)
            s += std::exp(lt[i]) * (lt[i] - ls[i]);
          return T * T * s / B;
        },
        // Larger logits so that T matters.
        [](StepBindings &b) {
          for (auto *t : {&b.params["x.student"], &b.inputs["teacher"]})
            for (double &v : t->data)
              v *= 8.0;
        });
}

} // namespace
