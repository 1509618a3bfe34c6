//===- DifferentialCheck.cpp - compiled steps against the f64 oracle ------===//
#include "DifferentialCheck.h"

#include "compiler/Artifact/ArtifactWriter.h"
#include "compiler/Import/GraphImporter.h"
#include "compiler/Pipeline/Phases.h"
#include "compiler/Pipeline/Registration.h"
#include "compiler/Reference/ReferenceEvaluator.h"
#include "runtime/exec/Executor.h"
#include "runtime/train/Trainer.h"

#include "Kiln/IR/KilnOps.h"

#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/Pass/PassManager.h"
#include "llvm/Support/Program.h"
#include "llvm/Support/raw_ostream.h"

#include <cmath>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <unistd.h>

using namespace mlir;

namespace kiln::fuzz {
namespace {

namespace fs = std::filesystem;

/// The longest reduction any op of the step makes (sums, rows of row ops,
/// GEMM inner dimensions): rounding grows with it.
int64_t longestReduction(func::FuncOp step) {
  int64_t most = 1;
  auto dims = [](Value v) { return cast<RankedTensorType>(v.getType()).getShape(); };
  step.walk([&](Operation *op) {
    int64_t n = 1;
    if (auto axes = op->getAttrOfType<DenseI64ArrayAttr>("axes"); axes && op->getNumOperands()) {
      for (int64_t a : axes.asArrayRef())
        n *= dims(op->getOperand(0))[a];
    } else if (auto axis = op->getAttrOfType<IntegerAttr>("axis");
               axis && isa<SoftmaxOp, LogSoftmaxOp, L2NormalizeOp, ArgmaxOp>(op)) {
      n = dims(op->getOperand(0))[axis.getInt()];
    } else if (isa<LayerNormOp>(op)) {
      n = dims(op->getOperand(0)).back();
    } else if (auto mm = dyn_cast<MatmulOp>(op)) {
      auto a = dims(mm.getLhs());
      n = mm.getTransposeLhs() ? a[a.size() - 2] : a.back();
    }
    most = std::max(most, n);
  });
  return most;
}

/// Labels for an i32 input: the classes of the one_hot that reads it.
int64_t classesOf(func::FuncOp step, const std::string &input) {
  int64_t classes = 10;
  step.walk([&](InputOp in) {
    if (in.getName() == input)
      for (Operation *u : in->getUsers())
        if (auto oh = dyn_cast<OneHotOp>(u))
          classes = std::min<int64_t>(classes, oh.getNumClasses());
  });
  return std::max<int64_t>(classes, 1);
}

std::vector<int64_t> shapeOf(const Buffer &b) { return b.shape; }

/// What one run of the compiled step gave.
struct Run {
  double loss = 0;
  std::map<std::string, double> metrics;
  std::map<std::string, std::vector<float>> params, state;
};

/// Worst error over tolerance across every comparison, and the first
/// that failed.
struct Verdict {
  double tolerance, worst = 0;
  std::string failure;

  void scalar(const std::string &what, double got, double want) {
    tensor(what, {got}, {want});
  }
  void tensor(const std::string &what, const std::vector<double> &got,
              const std::vector<double> &want) {
    double scale = 1;
    for (double w : want)
      scale = std::max(scale, std::fabs(w));
    for (size_t i = 0; i < want.size(); ++i) {
      double e = std::fabs(got[i] - want[i]) / scale;
      if (std::isnan(got[i]) != std::isnan(want[i]) || std::isnan(e))
        e = INFINITY;
      if (e / tolerance > worst)
        worst = e / tolerance;
      if (e > tolerance && failure.empty()) {
        std::ostringstream os;
        os << what << " element " << i << ": got " << got[i] << ", want " << want[i]
           << " (error " << e << ", tolerance " << tolerance << ")";
        failure = os.str();
      }
    }
  }
};

std::vector<double> toDouble(const std::vector<float> &v) { return {v.begin(), v.end()}; }

/// The graph with the options' edits (and the optimizer made plain SGD
/// with lr 1, so that the update is the gradient itself). Written beside
/// the original (its imports resolve from there); removed by the caller.
std::string withEdits(const std::string &path, const CheckOptions &options, std::string &error) {
  std::ifstream in(path);
  nlohmann::ordered_json g = nlohmann::ordered_json::parse(in, nullptr, false);
  if (g.is_discarded()) {
    error = path + ": not JSON";
    return "";
  }
  if (options.plainSgd)
    g["optimizer"] = {{"kind", "sgd"}, {"lr", 1.0}};
  for (const auto &[pointer, value] : options.edits) {
    nlohmann::ordered_json::json_pointer at(pointer);
    if (value.is_null())
      g[at.parent_pointer()].erase(at.back());
    else
      g[at] = value;
  }
  std::string out = (fs::path(path).parent_path() /
                     (".kiln-check-" + std::to_string(::getpid()) + ".json")).string();
  std::ofstream(out) << g.dump(1);
  return out;
}

} // namespace

const char *statusName(CheckResult::Status s) {
  switch (s) {
  case CheckResult::Pass: return "pass";
  case CheckResult::Rejected: return "rejected";
  case CheckResult::CompileError: return "compile-error";
  case CheckResult::Mismatch: return "mismatch";
  case CheckResult::Crash: return "crash";
  }
  return "?";
}

MLIRContext &checkContext() {
  static MLIRContext *ctx = [] {
    DialectRegistry registry;
    registerKilnDialects(registry);
    registerKilnPassesAndPipelines();
    auto *c = new MLIRContext(registry, MLIRContext::Threading::DISABLED);
    c->loadAllAvailableDialects();
    return c;
  }();
  return *ctx;
}

CheckResult checkGraph(const std::string &graphPath, const CheckOptions &options) {
  CheckResult result;
  MLIRContext &ctx = checkContext();
  std::string diagnostics;
  ScopedDiagnosticHandler handler(&ctx, [&](Diagnostic &d) {
    llvm::raw_string_ostream os(diagnostics);
    os << d.getLocation() << ": " << d.str() << "\n";
    return success();
  });
  auto fail = [&](CheckResult::Status s, const std::string &what) {
    result.status = s;
    result.message = what + (diagnostics.empty() ? "" : ":\n" + diagnostics);
    return result;
  };

  std::string error, path = graphPath;
  bool edited = options.plainSgd || !options.edits.empty();
  if (edited && (path = withEdits(graphPath, options, error)).empty())
    return fail(CheckResult::Rejected, error);
  ImportOptions io;
  io.batchSize = options.batchSize;
  OwningOpRef<ModuleOp> oracle = importGraph(ctx, path, io);
  if (edited)
    fs::remove(path);
  if (!oracle)
    return fail(CheckResult::Rejected, "import failed");
  OwningOpRef<ModuleOp> fused;
  for (const Phase &p : kilnPhases()) {
    if (std::string(p.name) == "fuse") {
      fused = oracle->clone();
      PassManager pm(&ctx);
      p.addPasses(pm);
      if (failed(pm.run(*fused)))
        return fail(CheckResult::CompileError, "phase fuse failed");
      break;
    }
    PassManager pm(&ctx);
    p.addPasses(pm);
    if (failed(pm.run(*oracle)))
      return fail(std::string(p.name) == "verify" ? CheckResult::Rejected : CheckResult::CompileError,
                  std::string("phase ") + p.name + " failed");
  }
  func::FuncOp step = *oracle->getOps<func::FuncOp>().begin();
  step.walk([&](Operation *op) {
    if (op->getDialect() && op->getDialect()->getNamespace() == "kiln")
      ++result.ops[op->getName().stripDialect().str()];
  });
  result.longestReduction = longestReduction(step);

  // The artifacts: without fusion (the oracle's own IR) and with it.
  struct Variant {
    std::string name;
    ModuleOp module;
    std::string dir;
  };
  std::vector<Variant> variants;
  static int serial = 0;
  auto dirFor = [&](const std::string &name) {
    return (fs::temp_directory_path() / ("kiln-check-" + std::to_string(::getpid()) + "-" +
                                         std::to_string(serial++) + "-" + name + ".kiln"))
        .string();
  };
  if (options.unfused)
    variants.push_back({"unfused", *oracle, dirFor("unfused")});
  variants.push_back({"fused", *fused, dirFor("fused")});
  struct Cleanup {
    std::vector<Variant> &v;
    ~Cleanup() {
      for (auto &x : v)
        fs::remove_all(x.dir);
    }
  } cleanup{variants};
  for (Variant &v : variants) {
    ArtifactOptions ao;
    ao.cuda = options.ptx && v.name == "fused";
    if (!writeArtifact(v.module, v.dir, ao, error))
      return fail(CheckResult::CompileError, v.name + " artifact: " + error);
    if (!ao.cuda || options.ptxas.empty() || !fs::exists(options.ptxas))
      continue;
    for (const std::string &arch : kCudaArchs) {
      std::string ptx = v.dir + "/kernels." + arch + ".ptx", message;
      int rc = llvm::sys::ExecuteAndWait(options.ptxas,
                                         {options.ptxas, "-arch=" + arch, ptx, "-o", "/dev/null"},
                                         std::nullopt, {}, 0, 0, &message);
      if (rc != 0)
        return fail(CheckResult::CompileError, "ptxas " + arch + " rejects the PTX " + message);
    }
  }

  // Bindings: the artifact's initial parameters and state, random inputs,
  // the schedules at a step past any warmup's start.
  StepBindings bindings;
  std::map<int64_t, RefTensor> draws; // random thunks' values, by stream
  std::mt19937 rng(options.seed);
  std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
  std::map<std::string, std::vector<float>> inputs; // f32 or i32 values as floats
  std::vector<Run> runs;
  std::vector<std::string> runNames;
  double lr = 0;
  for (Variant &v : variants)
    for (int threads : options.threads) {
      auto exec = Executor::load(v.dir, threads, error);
      if (!exec)
        return fail(CheckResult::CompileError, v.name + " artifact does not load: " + error);
      const Manifest &m = exec->manifest();
      int program = exec->program("train_step");
      bool first = runs.empty();
      for (const Buffer &b : m.compiled.buffers) {
        if (!first || (b.kind != "param" && b.kind != "state"))
          continue;
        const float *x = exec->as<float>(b.id);
        RefTensor t(shapeOf(b), std::vector<double>(x, x + b.bytes / 4));
        (b.kind == "param" ? bindings.params : bindings.state)[b.name] = t;
      }
      for (const auto &in : m.inputs) {
        if (in.program != "train_step")
          continue;
        const Buffer &b = m.compiled.buffers[in.buffer];
        int64_t n = b.bytes / (b.dtype == "i1" ? 1 : 4);
        if (first) {
          std::vector<float> values(n);
          int64_t classes = classesOf(step, in.name);
          for (float &x : values)
            x = b.dtype == "i32" ? (float)(rng() % classes) : uniform(rng);
          inputs[in.name] = values;
          bindings.inputs[in.name] = RefTensor(shapeOf(b), toDouble(values));
        }
        const std::vector<float> &values = inputs[in.name];
        for (int64_t i = 0; i < n; ++i)
          if (b.dtype == "i32")
            exec->as<int32_t>(in.buffer)[i] = (int32_t)values[i];
          else
            exec->as<float>(in.buffer)[i] = values[i];
      }
      std::vector<double> sched = setSchedules(*exec, {5, 1, 10, 3, m.batchSize});
      for (size_t i = 0; i < sched.size(); ++i) {
        bindings.schedules[m.schedules[i].name] = (float)sched[i];
        if (m.schedules[i].name == "lr")
          lr = (float)sched[i];
      }
      exec->randomKey = {options.seed, 5};
      const Program &prog = m.compiled.programs[program];
      for (size_t i = 0; i < prog.thunks.size(); ++i) {
        exec->runThunks(program, i, i + 1);
        const Thunk &t = prog.thunks[i];
        if (first && t.kind == Thunk::Random) {
          const Buffer &b = m.compiled.buffers[t.buffers[0]];
          const float *x = exec->as<float>(b.id);
          draws[t.stream] = RefTensor(shapeOf(b), std::vector<double>(x, x + b.bytes / 4));
        }
      }
      Run r;
      for (const Sink &s : prog.sinks) {
        double x = *exec->as<float>(s.buffer);
        if (s.kind == "loss")
          r.loss = x;
        else if (s.kind == "metric")
          r.metrics[s.name] = x;
      }
      for (const Buffer &b : m.compiled.buffers)
        if (b.kind == "param" || b.kind == "state") {
          const float *x = exec->as<float>(b.id);
          (b.kind == "param" ? r.params : r.state)[b.name].assign(x, x + b.bytes / 4);
        }
      runs.push_back(std::move(r));
      runNames.push_back(v.name + ", " + std::to_string(threads) + " thread" +
                         (threads > 1 ? "s" : ""));
    }
  bindings.random = [&](int64_t stream, const std::vector<int64_t> &) { return draws.at(stream); };
  auto want = evaluateStep(step, bindings);
  if (failed(want))
    return fail(CheckResult::CompileError, "the reference evaluator failed");

  // A gradient is (p - p')/lr when the update is plain SGD.
  if (options.plainSgd)
    lr = 1.0;
  std::ifstream graphText(graphPath);
  auto opt = nlohmann::ordered_json::parse(graphText, nullptr, false).value("optimizer",
                                                                           nlohmann::ordered_json::object());
  bool plain = options.plainSgd ||
               (opt.value("kind", "") == "sgd" && !opt.contains("momentum") &&
                !opt.contains("weight_decay") && !opt.contains("clip") && !opt.contains("groups"));
  Verdict verdict{options.tolerance * std::sqrt((double)result.longestReduction)};
  for (size_t k = 0; k < runs.size(); ++k) {
    const Run &r = runs[k];
    const std::string &who = runNames[k];
    verdict.scalar(who + ": loss", r.loss, want->loss);
    for (auto &[name, x] : want->metrics)
      verdict.scalar(who + ": metric " + name, r.metrics.at(name), x);
    for (auto &[name, t] : want->params) {
      verdict.tensor(who + ": updated " + name, toDouble(r.params.at(name)), t.data);
      if (!plain || lr == 0)
        continue;
      const std::vector<double> &p0 = bindings.params.at(name).data;
      std::vector<double> got(p0.size()), g(p0.size());
      for (size_t i = 0; i < p0.size(); ++i) {
        got[i] = (p0[i] - r.params.at(name)[i]) / lr;
        g[i] = (p0[i] - t.data[i]) / lr;
      }
      verdict.tensor(who + ": gradient of " + name, got, g);
    }
    for (auto &[name, t] : want->state)
      verdict.tensor(who + ": state " + name, toDouble(r.state.at(name)), t.data);
  }
  result.worst = verdict.worst;
  if (!verdict.failure.empty())
    return fail(CheckResult::Mismatch, verdict.failure);
  return result;
}

} // namespace kiln::fuzz
