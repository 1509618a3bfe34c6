//===- StepTestUtils.cpp - build, transform and evaluate test steps -------===//
#include "StepTestUtils.h"

#include "compiler/Import/GraphImporter.h"
#include "compiler/Pipeline/Phases.h"
#include "compiler/Pipeline/Registration.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/IR/Verifier.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <unistd.h>

using namespace mlir;

namespace kiln::test {

MLIRContext &context() {
  static MLIRContext *ctx = [] {
    DialectRegistry registry;
    registerKilnDialects(registry);
    registerKilnPassesAndPipelines();
    auto *c = new MLIRContext(registry);
    c->loadAllAvailableDialects();
    return c;
  }();
  return *ctx;
}

OwningOpRef<ModuleOp> stepOf(
    ArrayRef<std::vector<int64_t>> paramShapes,
    const std::function<Value(KilnBuilder &, ArrayRef<Value>)> &body) {
  MLIRContext &ctx = context();
  OpBuilder b(&ctx);
  Location loc = UnknownLoc::get(&ctx);
  OwningOpRef<ModuleOp> module = ModuleOp::create(loc);
  b.setInsertionPointToEnd(module->getBody());
  auto func = b.create<func::FuncOp>(loc, "objective", b.getFunctionType({}, {}));
  b.setInsertionPointToEnd(func.addEntryBlock());
  auto zeros = b.getDictionaryAttr({b.getNamedAttr("kind", b.getStringAttr("zeros"))});
  SmallVector<Value> params;
  for (auto [i, shape] : llvm::enumerate(paramShapes))
    params.push_back(b.create<ParamOp>(
        loc, RankedTensorType::get(shape, b.getF32Type()),
        b.getStringAttr("p" + std::to_string(i)), zeros, nullptr, nullptr));
  KilnBuilder k(b, loc);
  Value out = body(k, params);
  Value r = b.create<InputOp>(loc, out.getType(), b.getStringAttr("r"), nullptr);
  b.create<LossOp>(loc, k.sumAll(k.mul(out, r)), /*scale=*/Value());
  b.create<func::ReturnOp>(loc);
  EXPECT_TRUE(succeeded(mlir::verify(*module)));
  return module;
}

std::string shippedGraphText(const std::string &path) {
  std::ifstream in(std::string(KILN_SOURCE_DIR) + "/" + path);
  std::stringstream text;
  text << in.rdbuf();
  std::string json = text.str();
  // Imports in the shipped graphs are relative to models/.
  for (const char *from : {"\"../../models/lib/", "\"../../../../models/lib/"})
    for (size_t at; (at = json.find(from)) != std::string::npos;)
      json.replace(at, std::strlen(from), "\"lib/");
  return json;
}

OwningOpRef<ModuleOp> importText(const std::string &json, const std::string &phase,
                                 const PipelineOptions &options) {
  namespace fs = std::filesystem;
  // Its paths as if it were in models/ ("imports": ["lib/losses.json"]),
  // the file itself in the temporary directory.
  nlohmann::ordered_json graph = nlohmann::ordered_json::parse(json);
  anchorGraphPaths(graph, (fs::path(KILN_SOURCE_DIR) / "models").string());
  fs::path file = fs::temp_directory_path() / ("kiln-test-" + std::to_string(::getpid()) + ".json");
  std::ofstream(file) << graph.dump(1);
  OwningOpRef<ModuleOp> module = importGraph(context(), file.string());
  fs::remove(file);
  if (!module)
    return nullptr;
  if (failed(runPhases(*module, options, findPhase(phase))))
    return nullptr;
  return module;
}

std::unique_ptr<PlannedKernels> plannedKernels(const std::string &path) {
  auto planned = std::make_unique<PlannedKernels>();
  planned->module = importText(shippedGraphText(path), "lower");
  if (!planned->module) {
    ADD_FAILURE() << path << " did not lower";
    return nullptr;
  }
  planned->emitter = std::make_unique<KernelEmitter>(*planned->module->getContext());
  if (failed(selectThunks(*planned->module, planned->plan))) {
    ADD_FAILURE() << path << ": selecting thunks failed";
    return nullptr;
  }
  planBuffers(planned->plan);
  if (failed(emitKernels(planned->plan, *planned->emitter))) {
    ADD_FAILURE() << path << ": emitting kernels failed";
    return nullptr;
  }
  return planned;
}

bool runPipeline(ModuleOp module, const std::string &pipeline) {
  PassManager pm(&context());
  std::string error;
  llvm::raw_string_ostream os(error);
  if (failed(parsePassPipeline(pipeline, pm, os))) {
    ADD_FAILURE() << "bad pipeline " << pipeline << ": " << error;
    return false;
  }
  return succeeded(pm.run(module));
}

func::FuncOp stepOf(ModuleOp module) {
  return *module.getOps<func::FuncOp>().begin();
}

StepBindings randomBindings(ModuleOp module, std::mt19937 &rng, double low,
                            double high, int64_t classes, double schedule) {
  StepBindings b;
  std::uniform_real_distribution<double> u(low, high);
  auto fill = [&](Type t, bool integer) {
    auto type = cast<RankedTensorType>(t);
    RefTensor r(std::vector<int64_t>(type.getShape().begin(), type.getShape().end()));
    for (double &v : r.data)
      v = integer ? static_cast<double>(rng() % classes) : u(rng);
    return r;
  };
  stepOf(module).walk([&](Operation *op) {
    if (auto p = dyn_cast<ParamOp>(op))
      b.params[p.getName().str()] = fill(p.getType(), false);
    else if (auto s = dyn_cast<StateOp>(op))
      b.state[s.getName().str()] = fill(s.getType(), false);
    else if (auto i = dyn_cast<InputOp>(op))
      b.inputs[i.getName().str()] = fill(
          i.getType(), !cast<RankedTensorType>(i.getType()).getElementType().isF32());
    else if (auto s = dyn_cast<ScheduleOp>(op))
      b.schedules[s.getName().str()] = schedule;
  });
  return b;
}

StepResults evaluate(ModuleOp module, const StepBindings &bindings) {
  auto r = evaluateStep(stepOf(module), bindings);
  EXPECT_TRUE(succeeded(r));
  return succeeded(r) ? *r : StepResults{};
}

double gradientError(ModuleOp forward, const StepBindings &bindings, double h) {
  OwningOpRef<ModuleOp> withGrads = forward.clone();
  EXPECT_TRUE(runPipeline(*withGrads,
                          "func.func(kiln-lower-batch-norm,kiln-autodiff),canonicalize,cse"));
  if (getenv("KILN_TEST_DUMP"))
    withGrads->dump();
  StepResults ad = evaluate(*withGrads, bindings);
  // Ops rewritten before autodiff (batch_norm) keep their value.
  double loss = evaluate(forward, bindings).loss;
  double worst = std::fabs(ad.loss - loss) / std::max(1.0, std::fabs(loss));
  for (auto &[name, value] : bindings.params) {
    auto it = ad.gradients.find(name);
    if (it == ad.gradients.end()) {
      ADD_FAILURE() << "no gradient for parameter " << name;
      continue;
    }
    double diff = 0.0, nad = 0.0, nfd = 0.0;
    for (int64_t i = 0; i < value.size(); ++i) {
      StepBindings plus = bindings, minus = bindings;
      plus.params[name].data[i] += h;
      minus.params[name].data[i] -= h;
      double fd = (evaluate(forward, plus).loss - evaluate(forward, minus).loss) / (2 * h);
      double g = it->second.data[i];
      diff += (g - fd) * (g - fd);
      nad += g * g;
      nfd += fd * fd;
    }
    double scale = std::sqrt(std::max({nad, nfd, 1e-300}));
    worst = std::max(worst, std::sqrt(diff) / scale);
  }
  return worst;
}

} // namespace kiln::test
