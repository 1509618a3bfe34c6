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
    if (auto r = dyn_cast<ReductionOpInterface>(op)) {
      for (int64_t a : r.getReducedAxes())
        n *= dims(op->getOperand(0))[a];
    } else if (auto r = dyn_cast<RowOpInterface>(op)) {
      n = dims(op->getOperand(0))[r.getRowAxis()];
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

/// What one run of the compiled step gave.
struct Run {
  double loss = 0;
  std::map<std::string, double> metrics;
  std::map<std::string, RefTensor> params, state;
};

/// An executor's parameters or state (`kind`), as the oracle's tensors.
std::map<std::string, RefTensor> trained(const Executor &exec, const std::string &kind) {
  std::map<std::string, RefTensor> out;
  for (auto &[name, t] : exec.tensors(kind)) {
    const auto *x = reinterpret_cast<const float *>(t.data.data());
    out[name] = RefTensor(t.shape, std::vector<double>(x, x + t.data.size() / 4));
  }
  return out;
}

/// The learning rate when the step's update is plain SGD (p' = p - lr·g,
/// so the gradient can be read back from it), else 0: from the optimizer
/// section the module carries and the schedules' values.
double plainSgdRate(ModuleOp module, const StepBindings &b) {
  auto opt = module->getAttrOfType<DictionaryAttr>("kiln.optimizer");
  auto kind = opt ? opt.getAs<StringAttr>("kind") : nullptr;
  if (!kind || kind.getValue() != "sgd")
    return 0;
  for (const char *extra : {"momentum", "weight_decay", "clip", "groups", "freeze"})
    if (opt.get(extra))
      return 0;
  Attribute lr = opt.get("lr");
  if (auto f = dyn_cast_or_null<FloatAttr>(lr))
    return f.getValueAsDouble();
  if (auto i = dyn_cast_or_null<IntegerAttr>(lr))
    return (double)i.getInt();
  auto s = dyn_cast_or_null<StringAttr>(lr);
  auto it = s ? b.schedules.find(s.str()) : b.schedules.end();
  return it == b.schedules.end() ? 0 : it->second;
}

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

/// Writes the artifact of `module` to `dir` and, with `ptx`, assembles its
/// PTX where ptxas is; what failed, or "".
std::string buildArtifact(ModuleOp module, const std::string &dir, bool ptx,
                          const CheckOptions &options) {
  ArtifactOptions ao;
  ao.cuda = ptx;
  std::string error;
  if (!writeArtifact(module, dir, ao, error))
    return error.empty() ? "the writer failed" : error;
  if (!ptx || options.ptxas.empty() || !fs::exists(options.ptxas))
    return "";
  for (const std::string &arch : kCudaArchs) {
    std::string file = dir + "/kernels." + arch + ".ptx", message;
    int rc = llvm::sys::ExecuteAndWait(options.ptxas,
                                       {options.ptxas, "-arch=" + arch, file, "-o", "/dev/null"},
                                       std::nullopt, {}, 0, 0, &message);
    if (rc != 0)
      return "ptxas " + arch + " rejects the PTX " + message;
  }
  return "";
}

/// The oracle's bindings from an artifact just loaded: its initial
/// parameters and state, and random inputs (labels in [0, classes)).
void bindFrom(const Executor &exec, func::FuncOp step, std::mt19937 &rng, StepBindings &b) {
  const Manifest &m = exec.manifest();
  b.params = trained(exec, "param");
  b.state = trained(exec, "state");
  std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
  for (const auto &in : m.inputs) {
    if (in.program != "train_step")
      continue;
    const Buffer &buf = m.compiled.buffers[in.buffer];
    RefTensor t(buf.shape);
    int64_t classes = classesOf(step, in.name);
    for (double &x : t.data)
      x = buf.dtype == DType::I32 ? (double)(rng() % classes) : (double)uniform(rng);
    b.inputs[in.name] = t;
  }
}

/// One step of `exec` on the bindings' inputs, schedules at step 5 of 10
/// an epoch (past the start of any warmup; their values go to the
/// bindings), thunk by thunk so that random draws can be kept (`draws`).
Run runStep(Executor &exec, uint64_t seed, StepBindings &b, std::map<int64_t, RefTensor> *draws) {
  const Manifest &m = exec.manifest();
  for (const auto &in : m.inputs) {
    if (in.program != "train_step")
      continue;
    const std::vector<double> &x = b.inputs.at(in.name).data;
    for (size_t i = 0; i < x.size(); ++i)
      if (m.compiled.buffers[in.buffer].dtype == DType::I32)
        exec.as<int32_t>(in.buffer)[i] = (int32_t)x[i];
      else
        exec.as<float>(in.buffer)[i] = (float)x[i];
  }
  std::vector<double> sched = setSchedules(exec, {5, 1, 10, 3, m.batchSize});
  for (size_t i = 0; i < sched.size(); ++i)
    b.schedules[m.schedules[i].name] = (float)sched[i];
  exec.randomKey = {seed, 5};
  int program = exec.program("train_step");
  const Program &prog = m.compiled.programs[program];
  for (size_t i = 0; i < prog.thunks.size(); ++i) {
    exec.runThunks(program, i, i + 1);
    const RandomFill *fill = prog.thunks[i].as<RandomFill>();
    if (draws && fill) {
      const Buffer &buf = m.compiled.buffers[fill->buffer];
      const float *x = exec.as<float>(buf.id);
      (*draws)[fill->stream] = RefTensor(buf.shape, std::vector<double>(x, x + buf.bytes / 4));
    }
  }
  Run r;
  for (const Sink &s : prog.sinks) {
    double x = *exec.as<float>(s.buffer);
    if (s.kind == "loss")
      r.loss = x;
    else if (s.kind == "metric")
      r.metrics[s.name] = x;
  }
  r.params = trained(exec, "param");
  r.state = trained(exec, "state");
  return r;
}

/// One run against the oracle; with `lr` (plain SGD) the gradients too.
void compareRun(Verdict &verdict, const std::string &who, const Run &r, const StepResults &want,
                const StepBindings &b, double lr) {
  verdict.scalar(who + ": loss", r.loss, want.loss);
  for (auto &[name, x] : want.metrics)
    verdict.scalar(who + ": metric " + name, r.metrics.at(name), x);
  for (auto &[name, t] : want.params) {
    const std::vector<double> &p1 = r.params.at(name).data;
    verdict.tensor(who + ": updated " + name, p1, t.data);
    if (lr == 0)
      continue;
    const std::vector<double> &p0 = b.params.at(name).data;
    std::vector<double> got(p0.size()), g(p0.size());
    for (size_t i = 0; i < p0.size(); ++i) {
      got[i] = (p0[i] - p1[i]) / lr;
      g[i] = (p0[i] - t.data[i]) / lr;
    }
    verdict.tensor(who + ": gradient of " + name, got, g);
  }
  for (auto &[name, t] : want.state)
    verdict.tensor(who + ": state " + name, r.state.at(name).data, t.data);
}

/// The graph with the options' edits (and the optimizer made plain SGD
/// with lr 1, so that the update is the gradient itself), its paths made
/// absolute, in the temporary directory; removed by the caller.
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
  anchorGraphPaths(g, fs::absolute(path).parent_path().string());
  std::string out = (fs::temp_directory_path() /
                     ("kiln-check-" + std::to_string(::getpid()) + ".json")).string();
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
  unsigned done = 0; // phases completed
  PipelineOptions precision;
  precision.precision = options.precision;
  const Phase *oracleEnd = findPhase("precision");
  if (failed(runPhases(*oracle, precision, oracleEnd, nullptr,
                       [&](const Phase &, unsigned i) { return ++done, true; }))) {
    std::string phase = kilnPhases()[done].name;
    return fail(phase == "verify" ? CheckResult::Rejected : CheckResult::CompileError,
                "phase " + phase + " failed");
  }
  // The IR codegen takes: the oracle's step through the remaining phases.
  auto codegenIR = [&](bool fusion) -> OwningOpRef<ModuleOp> {
    OwningOpRef<ModuleOp> m = oracle->clone();
    PipelineOptions pipeline = precision;
    pipeline.fusion = fusion;
    // Fused, every cheap value backward reads is recomputed, however small
    // (kiln-recompute's min-bytes 0): generated graphs are small.
    if (fusion)
      pipeline.recomputeMinBytes = 0;
    if (failed(runPhases(*m, pipeline, &kilnPhases().back(), oracleEnd)))
      return nullptr;
    return m;
  };
  OwningOpRef<ModuleOp> fused = codegenIR(true), unfused = codegenIR(false);
  if (!fused || !unfused)
    return fail(CheckResult::CompileError, "the phases after precision failed");
  func::FuncOp step = *oracle->getOps<func::FuncOp>().begin();
  step.walk([&](Operation *op) {
    if (op->getDialect() && op->getDialect()->getNamespace() == "kiln")
      ++result.ops[op->getName().stripDialect().str()];
  });
  result.longestReduction = longestReduction(step);

  // The artifacts: without fusion (every op a region of its own) and with it.
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
    variants.push_back({"unfused", *unfused, dirFor("unfused")});
  variants.push_back({"fused", *fused, dirFor("fused")});
  struct Cleanup {
    std::vector<Variant> &v;
    ~Cleanup() {
      for (auto &x : v)
        fs::remove_all(x.dir);
    }
  } cleanup{variants};
  for (Variant &v : variants)
    if (std::string why = buildArtifact(v.module, v.dir, options.ptx && v.name == "fused", options);
        !why.empty())
      return fail(CheckResult::CompileError, v.name + " artifact: " + why);

  // Each artifact on each thread count; the first run's initial values and
  // inputs (and random draws) are the oracle's too.
  StepBindings bindings;
  std::map<int64_t, RefTensor> draws;
  std::mt19937 rng(options.seed);
  std::vector<std::pair<std::string, Run>> runs;
  for (Variant &v : variants)
    for (int threads : options.threads) {
      auto exec = Executor::load(v.dir, threads, error);
      if (!exec)
        return fail(CheckResult::CompileError, v.name + " artifact does not load: " + error);
      bool first = runs.empty();
      if (first)
        bindFrom(*exec, step, rng, bindings);
      Run r = runStep(*exec, options.seed, bindings, first ? &draws : nullptr);
      runs.push_back({v.name + ", " + std::to_string(threads) + " thread" + (threads > 1 ? "s" : ""),
                      std::move(r)});
    }
  bindings.random = [&](int64_t stream, const std::vector<int64_t> &) { return draws.at(stream); };
  auto want = evaluateStep(step, bindings);
  if (failed(want))
    return fail(CheckResult::CompileError, "the reference evaluator failed");

  Verdict verdict{options.tolerance * std::sqrt((double)result.longestReduction)};
  double lr = plainSgdRate(*oracle, bindings);
  for (auto &[who, r] : runs)
    compareRun(verdict, who, r, *want, bindings, lr);
  result.worst = verdict.worst;
  if (!verdict.failure.empty())
    return fail(CheckResult::Mismatch, verdict.failure);
  return result;
}

} // namespace kiln::fuzz
