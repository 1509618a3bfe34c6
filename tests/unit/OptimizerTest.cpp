//===- OptimizerTest.cpp - optimizer, clipping, freezing and EMA steps ----===//
//
// A step whose loss is linear in its parameters, Σ w·x + Σ b·y, so the
// gradients are the inputs x and y. The compiled step (autodiff, clip,
// optimizer, EMA) runs on the reference evaluator and must match, to double
// rounding, the update written out here from PyTorch's SGD and AdamW and
// DINO's LARS, clip_gradients and cancel_gradients_last_layer. Optimizer
// state starts at random values, so a step from the middle of training is
// checked, not only the first.
//
//===----------------------------------------------------------------------===//
#include "StepTestUtils.h"

#include "mlir/Parser/Parser.h"

#include <gtest/gtest.h>

#include <cmath>

using namespace mlir;
using namespace kiln;

namespace {

using Vec = std::vector<double>;

/// The step with `optimizer` as the kiln.optimizer attribute.
OwningOpRef<ModuleOp> compiledStep(const std::string &optimizer) {
  std::string text = R"(
module attributes {kiln.optimizer = )" + optimizer + R"(,
                   kiln.networks = {teacher = {momentum = "mom"}}} {
  func.func @objective() {
    %w = kiln.param "net.w" {init = {kind = "zeros"}} : tensor<3x4xf32>
    %b = kiln.param "net.bias" {init = {kind = "zeros"}} : tensor<4xf32>
    %t = kiln.param "teacher.w" {ema_of = "net.w", init = {from = "net.w", kind = "copy"}} : tensor<3x4xf32>
    %x = kiln.input "x" : tensor<3x4xf32>
    %y = kiln.input "y" : tensor<4xf32>
    %lr = kiln.schedule "lr" {spec = {kind = "constant", value = 1.0}} : tensor<f32>
    %wd = kiln.schedule "wd" {spec = {kind = "constant", value = 1.0}} : tensor<f32>
    %mom = kiln.schedule "mom" {spec = {kind = "constant", value = 1.0}} : tensor<f32>
    %wx = kiln.mul %w, %x : tensor<3x4xf32>, tensor<3x4xf32>
    %swx = kiln.sum %wx {axes = array<i64: 0, 1>} : tensor<3x4xf32>
    %by = kiln.mul %b, %y : tensor<4xf32>, tensor<4xf32>
    %sby = kiln.sum %by {axes = array<i64: 0>} : tensor<4xf32>
    %l = kiln.add %swx, %sby : tensor<f32>, tensor<f32>
    kiln.loss %l : tensor<f32>
    return
  }
})";
  OwningOpRef<ModuleOp> module = parseSourceString<ModuleOp>(text, &test::context());
  EXPECT_TRUE(module);
  EXPECT_TRUE(test::runPipeline(
      *module, "func.func(kiln-autodiff),kiln-clip-gradients,kiln-lower-optimizer,"
               "kiln-ema-teacher,canonicalize,cse"));
  return module;
}

struct Fixture {
  StepBindings b;
  Vec w, bias, gw, gb; // parameters and their gradients (the inputs)
  double lr = 0.05, wd = 0.1, mom = 0.99;

  explicit Fixture(ModuleOp module, unsigned seed = 5) {
    std::mt19937 rng(seed);
    b = test::randomBindings(*&module, rng);
    b.schedules = {{"lr", lr}, {"wd", wd}, {"mom", mom}};
    // Step counters are counts.
    for (auto &[name, t] : b.state)
      if (name.rfind("optimizer.step", 0) == 0)
        t.data = {3.0};
    w = b.params["net.w"].data;
    bias = b.params["net.bias"].data;
    gw = b.inputs["x"].data;
    gb = b.inputs["y"].data;
  }
  const Vec &state(const std::string &name) { return b.state.at(name).data; }
};

// Hyperparameters (0.9, 0.999, 1e-8, ...) are f32 constants in the IR, so
// results agree with the double-precision formulas to ~1e-8, far below what
// any formula error (a missing bias correction, decay on a bias) changes.
void expectNear(const Vec &got, const Vec &want, const char *what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  for (size_t i = 0; i < got.size(); ++i)
    EXPECT_NEAR(got[i], want[i], 1e-7 * std::max(1.0, std::fabs(want[i])))
        << what << "[" << i << "]";
}

double norm(const Vec &v) {
  double s = 0.0;
  for (double x : v)
    s += x * x;
  return std::sqrt(s);
}

/// torch.optim.SGD, one tensor: coupled decay, momentum buffer, nesterov.
Vec sgd(Vec p, Vec g, Vec &buf, double lr, double wd, double mom, bool nesterov) {
  for (size_t i = 0; i < p.size(); ++i) {
    double d = g[i] + wd * p[i];
    buf[i] = mom * buf[i] + d;
    d = nesterov ? d + mom * buf[i] : buf[i];
    p[i] -= lr * d;
  }
  return p;
}

/// torch.optim.AdamW (_single_tensor_adamw), step count t after increment.
Vec adamw(Vec p, const Vec &g, Vec &m, Vec &v, double t, double lr, double wd,
          double b1, double b2, double eps) {
  for (size_t i = 0; i < p.size(); ++i) {
    p[i] *= 1 - lr * wd;
    m[i] += (g[i] - m[i]) * (1 - b1);
    v[i] = v[i] * b2 + g[i] * g[i] * (1 - b2);
    double denom = std::sqrt(v[i]) / std::sqrt(1 - std::pow(b2, t)) + eps;
    p[i] -= lr / (1 - std::pow(b1, t)) * m[i] / denom;
  }
  return p;
}

TEST(Optimizer, SgdMomentumWithCoupledDecay) {
  auto module = compiledStep(R"({kind = "sgd", lr = "lr", weight_decay = "wd", momentum = 0.9})");
  Fixture f(*module);
  Vec bufW = f.state("optimizer.momentum_buffer.net.w"),
      bufB = f.state("optimizer.momentum_buffer.net.bias");
  StepResults r = test::evaluate(*module, f.b);
  expectNear(r.params.at("net.w").data, sgd(f.w, f.gw, bufW, f.lr, f.wd, 0.9, false), "w");
  expectNear(r.state.at("optimizer.momentum_buffer.net.w").data, bufW, "buffer");
  expectNear(r.params.at("net.bias").data, sgd(f.bias, f.gb, bufB, f.lr, f.wd, 0.9, false), "bias");
}

TEST(Optimizer, SgdNesterov) {
  auto module = compiledStep(R"({kind = "sgd", lr = 0.05, momentum = 0.9, nesterov = true})");
  Fixture f(*module);
  Vec buf = f.state("optimizer.momentum_buffer.net.w");
  StepResults r = test::evaluate(*module, f.b);
  expectNear(r.params.at("net.w").data, sgd(f.w, f.gw, buf, 0.05, 0.0, 0.9, true), "w");
}

/// DINO's groups: decay on matrices, none on biases and 1-D tensors.
TEST(Optimizer, AdamWWithParameterGroups) {
  auto module = compiledStep(
      R"({kind = "adamw", lr = "lr", weight_decay = "wd", betas = [0.9, 0.999], eps = 1.0e-08,
          groups = [{match = "*.bias", weight_decay = 0 : i64}, {match = "ndim<2", weight_decay = 0 : i64}]})");
  Fixture f(*module);
  Vec mW = f.state("optimizer.exp_avg.net.w"), vW = f.state("optimizer.exp_avg_sq.net.w");
  Vec mB = f.state("optimizer.exp_avg.net.bias"), vB = f.state("optimizer.exp_avg_sq.net.bias");
  for (double &x : vW)
    x = std::fabs(x); // second moments are non-negative
  for (double &x : vB)
    x = std::fabs(x);
  f.b.state["optimizer.exp_avg_sq.net.w"].data = vW;
  f.b.state["optimizer.exp_avg_sq.net.bias"].data = vB;
  StepResults r = test::evaluate(*module, f.b);
  double t = 4.0; // 3 steps done, this is the 4th
  expectNear(r.params.at("net.w").data, adamw(f.w, f.gw, mW, vW, t, f.lr, f.wd, 0.9, 0.999, 1e-8), "w");
  expectNear(r.params.at("net.bias").data, adamw(f.bias, f.gb, mB, vB, t, f.lr, 0.0, 0.9, 0.999, 1e-8), "bias");
  expectNear(r.state.at("optimizer.exp_avg.net.w").data, mW, "exp_avg");
  expectNear(r.state.at("optimizer.exp_avg_sq.net.bias").data, vB, "exp_avg_sq");
  EXPECT_EQ(r.state.at("optimizer.step").scalar(), 4.0);
}

/// DINO utils.LARS: trust ratio η‖p‖/‖g + wd·p‖ and decay for matrices only.
TEST(Optimizer, LarsSkipsOneDimensionalTensors) {
  auto module = compiledStep(R"({kind = "lars", lr = "lr", weight_decay = "wd", momentum = 0.9, trust_coefficient = 0.001})");
  Fixture f(*module);
  Vec muW = f.state("optimizer.mu.net.w"), muB = f.state("optimizer.mu.net.bias");
  Vec d(f.w.size());
  for (size_t i = 0; i < d.size(); ++i)
    d[i] = f.gw[i] + f.wd * f.w[i];
  double q = 0.001 * norm(f.w) / norm(d);
  Vec w = f.w, bias = f.bias;
  for (size_t i = 0; i < w.size(); ++i) {
    muW[i] = 0.9 * muW[i] + d[i] * q;
    w[i] -= f.lr * muW[i];
  }
  for (size_t i = 0; i < bias.size(); ++i) {
    muB[i] = 0.9 * muB[i] + f.gb[i];
    bias[i] -= f.lr * muB[i];
  }
  StepResults r = test::evaluate(*module, f.b);
  expectNear(r.params.at("net.w").data, w, "w");
  expectNear(r.params.at("net.bias").data, bias, "bias");
}

/// DINO clip_gradients: each tensor on its own, c = max/(‖g‖ + 1e-6) if < 1.
TEST(Optimizer, ClipPerParameter) {
  auto module = compiledStep(R"({kind = "sgd", lr = 1.0, clip = {kind = "per_param", max_norm = 0.5}})");
  Fixture f(*module);
  StepResults r = test::evaluate(*module, f.b);
  for (auto [name, p, g] : {std::tuple{"net.w", f.w, f.gw}, std::tuple{"net.bias", f.bias, f.gb}}) {
    double c = std::min(1.0, 0.5 / (norm(g) + 1e-6));
    Vec want = p;
    for (size_t i = 0; i < p.size(); ++i)
      want[i] -= g[i] * c;
    expectNear(r.params.at(name).data, want, name);
  }
}

/// PyTorch clip_grad_norm_: one coefficient from the norm over all tensors.
TEST(Optimizer, ClipGlobalNorm) {
  auto module = compiledStep(R"({kind = "sgd", lr = 1.0, clip = {kind = "global_norm", max_norm = 0.5}})");
  Fixture f(*module);
  StepResults r = test::evaluate(*module, f.b);
  double total = std::hypot(norm(f.gw), norm(f.gb));
  double c = std::min(1.0, 0.5 / (total + 1e-6));
  Vec w = f.w;
  for (size_t i = 0; i < w.size(); ++i)
    w[i] -= f.gw[i] * c;
  expectNear(r.params.at("net.w").data, w, "w");
}

/// Frozen during the first epoch (DINO's last layer): no update, no decay,
/// no moment or step-count change; afterwards AdamW starts with its own
/// step count while the other parameters continue theirs.
TEST(Optimizer, FreezeForFirstEpochs) {
  auto module = compiledStep(
      R"({kind = "adamw", lr = "lr", weight_decay = "wd", freeze = [{match = "net.w", epochs = 1 : i64}]})");
  Fixture f(*module);
  f.b.state["optimizer.step.freeze.0"].data = {0.0};
  f.b.schedules["optimizer.freeze.0"] = 0.0; // epoch 0
  for (auto *v : {&f.b.state["optimizer.exp_avg_sq.net.w"], &f.b.state["optimizer.exp_avg_sq.net.bias"]})
    for (double &x : v->data)
      x = std::fabs(x);
  StepResults frozen = test::evaluate(*module, f.b);
  expectNear(frozen.params.at("net.w").data, f.w, "frozen w");
  expectNear(frozen.state.at("optimizer.exp_avg.net.w").data, f.state("optimizer.exp_avg.net.w"), "frozen m");
  EXPECT_EQ(frozen.state.at("optimizer.step.freeze.0").scalar(), 0.0);
  EXPECT_EQ(frozen.state.at("optimizer.step").scalar(), 4.0);
  EXPECT_NE(frozen.params.at("net.bias").data, f.bias);

  f.b.schedules["optimizer.freeze.0"] = 1.0; // epoch 1
  Vec m = f.state("optimizer.exp_avg.net.w"), v = f.state("optimizer.exp_avg_sq.net.w");
  StepResults thawed = test::evaluate(*module, f.b);
  expectNear(thawed.params.at("net.w").data,
             adamw(f.w, f.gw, m, v, 1.0, f.lr, f.wd, 0.9, 0.999, 1e-8), "thawed w");
  EXPECT_EQ(thawed.state.at("optimizer.step.freeze.0").scalar(), 1.0);
}

/// The teacher follows the student's value after this step's update.
TEST(Optimizer, EmaTeacherAfterOptimizerStep) {
  auto module = compiledStep(R"({kind = "sgd", lr = "lr"})");
  Fixture f(*module);
  StepResults r = test::evaluate(*module, f.b);
  const Vec &t = f.b.params.at("teacher.w").data;
  Vec want(t.size());
  for (size_t i = 0; i < t.size(); ++i)
    want[i] = t[i] * f.mom + (1 - f.mom) * (f.w[i] - f.lr * f.gw[i]);
  expectNear(r.params.at("teacher.w").data, want, "teacher");
  EXPECT_EQ(r.gradients.count("teacher.w"), 0u);
}

} // namespace
