//===- ArtifactWriter.cpp - write OUT.kiln from the final IR --------------===//
#include "compiler/Artifact/ArtifactWriter.h"

#include "Kiln/IR/KilnOps.h"
#include "compiler/Artifact/Initializers.h"
#include "compiler/Codegen/CudaKernels.h"
#include "compiler/Codegen/KernelLibrary.h"
#include "compiler/Codegen/KernelEmitter.h"
#include "compiler/Codegen/StepPlanner.h"
#include "runtime/artifact/Crc32.h"
#include "runtime/artifact/Manifest.h"
#include "runtime/artifact/Safetensors.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "llvm/Support/raw_ostream.h"

#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <set>
#include <filesystem>
#include <fstream>
#include <unistd.h>

using namespace mlir;
using json = nlohmann::ordered_json;
namespace fs = std::filesystem;

namespace kiln {
namespace {

json attrToJson(Attribute a) {
  if (!a)
    return nullptr;
  if (auto d = dyn_cast<DictionaryAttr>(a)) {
    json j = json::object();
    for (NamedAttribute n : d)
      j[n.getName().str()] = attrToJson(n.getValue());
    return j;
  }
  if (auto l = dyn_cast<ArrayAttr>(a)) {
    json j = json::array();
    for (Attribute e : l)
      j.push_back(attrToJson(e));
    return j;
  }
  if (auto s = dyn_cast<StringAttr>(a))
    return s.getValue().str();
  if (auto b = dyn_cast<BoolAttr>(a))
    return b.getValue();
  if (auto i = dyn_cast<IntegerAttr>(a))
    return i.getInt();
  if (auto f = dyn_cast<FloatAttr>(a))
    return f.getValueAsDouble();
  return nullptr;
}

/// Initial values of every parameter and state: drawn in parallel, then
/// the copies (a teacher's from its student).
bool initialTensors(ModuleOp module, uint64_t seed, const std::string &baseDir,
                    TensorMap &params, TensorMap &state, std::string &error) {
  struct Pending {
    std::string name;
    DictionaryAttr init;
    int64_t count;
    std::vector<int64_t> shape;
    float *values;
    bool copy;
  };
  std::vector<Pending> pending;
  module.walk([&](Operation *op) {
    StringRef name;
    DictionaryAttr init;
    if (auto p = dyn_cast<ParamOp>(op)) {
      name = p.getName();
      init = p.getInit();
    } else if (auto s = dyn_cast<StateOp>(op)) {
      name = s.getName();
      init = s.getInit();
    } else {
      return;
    }
    if (params.count(name.str()) || state.count(name.str()))
      return;
    TensorMap &into = isa<ParamOp>(op) ? params : state;
    auto type = cast<RankedTensorType>(op->getResult(0).getType());
    std::vector<int64_t> shape(type.getShape().begin(), type.getShape().end());
    StoredTensor &t = into[name.str()] = {safetensorsDtype(DType::F32), shape,
                                        std::vector<uint8_t>(type.getNumElements() * 4)};
    pending.push_back({name.str(), init, type.getNumElements(), shape,
                       reinterpret_cast<float *>(t.data.data()),
                       init.getAs<StringAttr>("kind").getValue() == "copy"});
  });
  std::map<std::string, llvm::ArrayRef<float>> ready;
  std::vector<std::string> errors(pending.size());
  // Drawn values in parallel; values read from files one at a time (each
  // reads its whole file).
  auto fromFile = [](const Pending &p) {
    return p.init.getAs<StringAttr>("kind").getValue() == "file";
  };
  forEachInParallel(pending.size(), [&](size_t i) {
    const Pending &p = pending[i];
    if (!p.copy && !fromFile(p))
      initialValues(p.init, p.name, p.count, p.shape, seed, baseDir, ready, p.values, errors[i]);
  });
  for (auto [p, e] : llvm::zip(pending, errors))
    if (fromFile(p))
      initialValues(p.init, p.name, p.count, p.shape, seed, baseDir, ready, p.values, e);
  for (auto [p, e] : llvm::zip(pending, errors)) {
    if (!e.empty()) {
      error = e;
      return false;
    }
    if (!p.copy)
      ready[p.name] = llvm::ArrayRef<float>(p.values, p.count);
  }
  // A copy may copy a copy made before it.
  for (const Pending &p : pending)
    if (p.copy) {
      if (!initialValues(p.init, p.name, p.count, p.shape, seed, baseDir, ready, p.values, error))
        return false;
      ready[p.name] = llvm::ArrayRef<float>(p.values, p.count);
    }
  return true;
}

/// The fewest classes any one_hot of `in`'s values encodes them into (the
/// labels' valid range), 0 when none does. Followed back into fusion
/// regions and through integer ops of one operand (a reshape of the
/// labels), not through argmax: an accuracy's one_hot of the predictions
/// says nothing of an image input.
int64_t oneHotClasses(InputOp in) {
  int64_t classes = 0;
  in->getParentOfType<func::FuncOp>().walk([&](OneHotOp oneHot) {
    Value v = oneHot.getInput();
    while (true) {
      if (auto arg = dyn_cast<BlockArgument>(v)) { // into the fusion region
        auto fusion = dyn_cast<FusionOp>(arg.getOwner()->getParentOp());
        if (!fusion)
          break;
        v = fusion->getOperand(arg.getArgNumber());
        continue;
      }
      Operation *def = v.getDefiningOp();
      if (!def || def->getNumOperands() != 1 ||
          !getElementTypeOrSelf(def->getOperand(0).getType()).isInteger())
        break;
      v = def->getOperand(0);
    }
    int64_t n = static_cast<int64_t>(oneHot.getNumClasses());
    if (v.getDefiningOp() == in.getOperation() && (classes == 0 || n < classes))
      classes = n;
  });
  return classes;
}

} // namespace

bool writeArtifact(ModuleOp module, const std::string &out, const ArtifactOptions &options,
                   std::string &error) {
  fs::path target = fs::absolute(out);
  fs::path tmp = target;
  tmp += ".tmp-" + std::to_string(::getpid());
  std::error_code ec;
  fs::remove_all(tmp, ec);
  if (!fs::create_directories(tmp, ec)) {
    error = "cannot create " + tmp.string() + ": " + ec.message();
    return false;
  }
  auto fail = [&](const std::string &message) {
    if (!message.empty())
      error = message;
    fs::remove_all(tmp, ec);
    return false;
  };

  mlir::TimingScope root = options.timing ? options.timing->nest("write the artifact")
                                           : mlir::TimingScope();
  mlir::TimingScope stage = root.nest("step.mlir");
  std::string ir;
  llvm::raw_string_ostream irStream(ir);
  module.print(irStream);
  if (!writeTextFile((tmp / "step.mlir").string(), ir, error))
    return fail("");

  // After each phase: its dump, then on to the next unless it was the last
  // asked for (a success: nothing is written but the dumps).
  bool stopped = false;
  auto next = [&](const std::string &phase, const std::function<std::string()> &text) {
    if (options.afterPhase && !options.afterPhase(phase, text))
      return false;
    stopped = phase == options.last;
    return !stopped;
  };
  auto timed = [&](const char *name) {
    stage.stop();
    stage = root.nest(name);
  };
  auto stop = [&] { return stopped ? (fs::remove_all(tmp, ec), true) : fail(""); };
  Manifest m;
  StepPlan plan;
  timed("thunks");
  if (failed(selectThunks(module, plan)))
    return fail("selecting the step's thunks failed");
  if (!next("thunks", [&] { return describeThunks(plan.model); }))
    return stop();
  timed("buffer plan");
  planBuffers(plan);
  if (!next("buffer-plan", [&] { return describePlan(plan.model); }))
    return stop();
  if (options.withoutRecompute) {
    timed("buffer plan without recomputation");
    StepPlan kept;
    if (failed(selectThunks(options.withoutRecompute, kept)))
      return fail("selecting the thunks of the step without recomputation failed");
    planBuffers(kept);
    for (size_t i = 0; i < plan.model.programs.size() && i < kept.model.programs.size(); ++i)
      plan.model.programs[i].arenaBytesWithoutRecompute = kept.model.programs[i].arenaBytes;
  }
  timed("kernels (MLIR)");
  KernelEmitter emitter(*module.getContext());
  if (failed(emitKernels(plan, emitter)))
    return fail("emitting the kernels failed");
  m.compiled = std::move(plan.model);
  KernelDumpRequest dump{options.dumpKernelsTo, options.dumpKernel};
  if (!dump.kernel.empty()) {
    if (dump.dir.empty())
      return fail("--kernel names the kernel whose files --dump-kernels-to DIR writes; give DIR");
    // A region's name stands for the kernel it runs.
    for (const Program &p : m.compiled.programs)
      for (const Thunk &t : p.thunks)
        if (t.name == options.dumpKernel) {
          const KernelLaunch *k = t.as<KernelLaunch>();
          if (!k)
            return fail("--kernel: region '" + t.name + "' runs as byte copies, without a kernel");
          dump.kernel = m.compiled.kernels[k->kernel].name;
        }
    if (llvm::none_of(m.compiled.kernels, [&](const Kernel &k) { return k.name == dump.kernel; }))
      return fail("--kernel: no kernel or region is called '" + options.dumpKernel +
                  "' (kiln compile --compile-to=thunks lists the regions)");
  }
  // Printed before lowering changes the module, and only if wanted.
  std::string kernelText;
  if (options.printKernels)
    llvm::raw_string_ostream(kernelText) << emitter.module();
  if (options.cuda) {
    timed("PTX");
    std::map<std::string, std::string> ptx;
    if (!emitPtx(emitter.module(), emitter.fusionKernels, kCudaArchs, m.compiled.kernels,
                 options.kernelCache, !dump.dir.empty(), stage, ptx, error,
                 options.setupPassManager) ||
        !dumpPtx(ptx, dump, error))
      return fail("");
    for (auto &[arch, text] : ptx)
      if (!writeTextFile((tmp / ("kernels." + arch + ".ptx")).string(), text, error))
        return fail("");
    m.cudaArchs = kCudaArchs;
  }
  timed("kernels.so");
  CpuTarget cpu = resolveCpu(options.cpu);
  KernelStats stats;
  if (!buildKernelLibrary(emitter.module(), cpu, tmp.string(), dump,
                          options.kernelCache, m.compiled, emitter.bodyKeys(), stats,
                          stage, error, options.setupPassManager))
    return fail("");
  for (const Program &p : m.compiled.programs)
    stats.launches += llvm::count_if(p.thunks, [](const Thunk &t) { return t.as<KernelLaunch>(); });
  if (options.kernelStats)
    *options.kernelStats = stats;
  if (!next("kernels", [&] { return kernelText; }))
    return stop();
  timed("initial values");

  auto attr = [&](const char *name) { return attrToJson(module->getAttr(name)); };
  json train = attr("kiln.train");
  uint64_t seed = train.is_object() ? train.value("seed", 0) : 0;
  std::string source = module->getAttrOfType<StringAttr>("kiln.source")
                           ? module->getAttrOfType<StringAttr>("kiln.source").getValue().str()
                           : "";
  TensorMap params, state, constantTensors;
  if (!initialTensors(module, seed, fs::path(source).parent_path().string(), params, state, error))
    return fail("");
  for (auto &[id, bytes] : plan.constants) {
    const Buffer &b = m.compiled.buffers[id];
    constantTensors[std::to_string(id)] = {safetensorsDtype(b.dtype),
                                           b.shape, bytes};
  }
  timed("tensor files");
  if (!writeSafetensors((tmp / "params.safetensors").string(), params, error) ||
      !writeSafetensors((tmp / "state.safetensors").string(), state, error) ||
      !writeSafetensors((tmp / "constants.safetensors").string(), constantTensors, error))
    return fail("");

  m.model = module->getAttrOfType<StringAttr>("kiln.name")
                ? module->getAttrOfType<StringAttr>("kiln.name").getValue().str()
                : "model";
  m.source = source;
  m.trainingKey = options.trainingKey;
  m.cpu = cpu.cpu;
  m.cpuFeatures = cpu.features;
  auto batch = module->getAttrOfType<IntegerAttr>("kiln.batch_size");
  m.batchSize = batch ? batch.getInt() : 1;
  m.data = attr("kiln.data");
  m.train = train;
  m.optimizer = attr("kiln.optimizer");
  m.networks = attr("kiln.networks");
  for (func::FuncOp fn : module.getOps<func::FuncOp>()) {
    std::string entry = fn.getName() == "objective" ? "train_step" : fn.getName().str();
    fn.walk([&](InputOp in) {
      std::string name = entry + ":" + in.getName().str();
      for (const Buffer &b : m.compiled.buffers)
        if (b.kind == "input" && b.name == name)
          m.inputs.push_back({entry, in.getName().str(),
                              in.getSource() ? in.getSource()->str() : "", b.id,
                              oneHotClasses(in)});
      if (entry == "eval")
        m.evalBatchSize = cast<RankedTensorType>(in.getType()).getDimSize(0);
    });
    fn.walk([&](ScheduleOp s) {
      for (const Buffer &b : m.compiled.buffers)
        if (b.kind == "schedule" && b.name == "schedule:" + s.getName().str() &&
            std::none_of(m.schedules.begin(), m.schedules.end(),
                         [&](auto &x) { return x.buffer == b.id; }))
          m.schedules.push_back({s.getName().str(), attrToJson(s.getSpec()), b.id});
    });
  }
  timed("checksums and manifest");
  for (auto &entry : fs::directory_iterator(tmp)) {
    uint32_t crc;
    int64_t bytes;
    if (!fileCrc32(entry.path().string(), crc, bytes))
      return fail("cannot read back " + entry.path().string());
    m.files[entry.path().filename().string()] = {bytes, crc};
  }
  if (!writeManifest((tmp / "manifest.json").string(), m, error))
    return fail("");

  // Into place atomically: a reader sees the old artifact or the new one,
  // never neither (the two directories exchanged, then the old removed).
  if (::renameat2(AT_FDCWD, tmp.c_str(), AT_FDCWD, target.c_str(), RENAME_EXCHANGE) == 0) {
    fs::remove_all(tmp, ec);
    return true;
  }
  // Nothing there yet, or a file system that cannot exchange: the
  // old artifact, if any, moves aside until the new one is in place.
  fs::path old = target;
  old += ".old-" + std::to_string(::getpid());
  bool hadOld = fs::exists(target);
  if (hadOld)
    fs::rename(target, old, ec);
  if (!ec)
    fs::rename(tmp, target, ec);
  if (ec) {
    if (hadOld)
      fs::rename(old, target);
    return fail("cannot move the artifact into " + target.string() + ": " + ec.message());
  }
  if (hadOld)
    fs::remove_all(old, ec);
  return true;
}

} // namespace kiln
