//===- KernelLibrary.cpp - kernels to LLVM IR, object file, .so -----------===//
#include "compiler/Codegen/KernelLibrary.h"
#include "compiler/Codegen/Bf16Conversions.h"
#include "compiler/Codegen/ErfApproximation.h"
#include "compiler/Codegen/KernelLineInfo.h"
#include "compiler/Codegen/KernelObjects.h"
#include "runtime/artifact/DurableFile.h"

#include "mlir/Conversion/ArithToLLVM/ArithToLLVM.h"
#include "mlir/Conversion/ControlFlowToLLVM/ControlFlowToLLVM.h"
#include "mlir/Conversion/FuncToLLVM/ConvertFuncToLLVMPass.h"
#include "mlir/Conversion/MathToLLVM/MathToLLVM.h"
#include "mlir/Conversion/MathToLibm/MathToLibm.h"
#include "mlir/Conversion/MemRefToLLVM/MemRefToLLVM.h"
#include "mlir/Conversion/ReconcileUnrealizedCasts/ReconcileUnrealizedCasts.h"
#include "mlir/Conversion/SCFToControlFlow/SCFToControlFlow.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Math/Transforms/Passes.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Target/LLVMIR/Dialect/Builtin/BuiltinToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/LLVMIR/LLVMToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Export.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

#include "llvm/IR/LegacyPassManager.h"
#include "llvm/IR/Module.h"
#include "llvm/MC/MCSubtargetInfo.h"
#include "llvm/MC/TargetRegistry.h"
#include "llvm/Passes/PassBuilder.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Program.h"
#include "llvm/Support/TargetSelect.h"
#include "llvm/Support/raw_ostream.h"
#include "llvm/Target/TargetMachine.h"
#include "llvm/TargetParser/Host.h"

#include <atomic>
#include <mutex>
#include <thread>

using namespace mlir;

namespace kiln {
namespace {

bool writeWith(const std::string &path, const std::function<void(llvm::raw_ostream &)> &fn,
               std::string &error) {
  std::error_code ec;
  llvm::raw_fd_ostream os(path, ec);
  if (ec) {
    error = "cannot write " + path + ": " + ec.message();
    return false;
  }
  fn(os);
  os.close();
  if (os.has_error()) { // e.g. a full disk; cleared, or LLVM would abort
    error = "cannot write " + path + ": " + os.error().message();
    os.clear_error();
    llvm::sys::fs::remove(path);
    return false;
  }
  return true;
}

/// A kernel's IR or assembly with its object's symbol (kiln_<hash>, unique)
/// replaced by the kernel's own name throughout.
std::string underName(std::string text, const std::string &symbol, const std::string &name) {
  for (size_t at = text.find(symbol); at != std::string::npos; at = text.find(symbol, at))
    text.replace(at, symbol.size(), name);
  return text;
}

} // namespace

bool writeTextFile(const std::string &path, llvm::StringRef text, std::string &error) {
  return writeFileAtomically(path, {std::string_view(text.data(), text.size())}, error);
}

void optimize(llvm::Module &module, llvm::TargetMachine &machine, llvm::OptimizationLevel level) {
  llvm::LoopAnalysisManager lam;
  llvm::FunctionAnalysisManager fam;
  llvm::CGSCCAnalysisManager cgam;
  llvm::ModuleAnalysisManager mam;
  llvm::PassBuilder pb(&machine);
  pb.registerModuleAnalyses(mam);
  pb.registerCGSCCAnalyses(cgam);
  pb.registerFunctionAnalyses(fam);
  pb.registerLoopAnalyses(lam);
  pb.crossRegisterProxies(lam, fam, cgam, mam);
  pb.buildPerModuleDefaultPipeline(level).run(module, mam);
}

std::unique_ptr<llvm::TargetMachine> cpuTargetMachine(const CpuTarget &target,
                                                      std::string &error) {
  std::string triple = llvm::sys::getDefaultTargetTriple();
  const llvm::Target *llvmTarget = llvm::TargetRegistry::lookupTarget(triple, error);
  if (!llvmTarget)
    return nullptr;
  std::unique_ptr<llvm::TargetMachine> machine(llvmTarget->createTargetMachine(
      triple, target.cpu, target.features, llvm::TargetOptions(), llvm::Reloc::PIC_,
      std::nullopt, llvm::CodeGenOptLevel::Aggressive));
  if (!machine)
    error = "no LLVM target machine for CPU '" + target.cpu + "'";
  return machine;
}

void forEachInParallel(size_t jobs, const std::function<void(size_t)> &each) {
  std::atomic<size_t> next{0};
  auto work = [&] {
    for (size_t i; (i = next++) < jobs;)
      each(i);
  };
  size_t threads = std::min<size_t>(jobs, std::max(1u, std::thread::hardware_concurrency()));
  std::vector<std::thread> pool;
  for (size_t t = 1; t < threads; ++t)
    pool.emplace_back(work);
  work();
  for (std::thread &t : pool)
    t.join();
}

CpuTarget resolveCpu(const std::string &requested) {
  CpuTarget t;
  if (requested.empty())
    return t;
  if (requested != "host") {
    t.cpu = requested;
    return t;
  }
  t.cpu = llvm::sys::getHostCPUName().str();
  std::string features;
  for (auto &f : llvm::sys::getHostCPUFeatures())
    features += std::string(features.empty() ? "" : ",") + (f.second ? "+" : "-") + f.first().str();
  t.features = features;
  return t;
}

/// LLVM's host target, registered once per process.
static void initializeNativeTarget() {
  static std::once_flag once;
  std::call_once(once, [] {
    llvm::InitializeNativeTarget();
    llvm::InitializeNativeTargetAsmPrinter();
  });
}

bool checkCpu(const std::string &requested, std::string &error) {
  if (requested.empty() || requested == "host")
    return true;
  initializeNativeTarget();
  std::string triple = llvm::sys::getDefaultTargetTriple();
  const llvm::Target *target = llvm::TargetRegistry::lookupTarget(triple, error);
  if (!target)
    return false;
  // Asked of a generic subtarget: one made for an unknown CPU warns on stderr.
  std::unique_ptr<llvm::MCSubtargetInfo> generic(
      target->createMCSubtargetInfo(triple, "generic", ""));
  if (!generic->isCPUStringValid(requested)) {
    error = "'" + requested + "' is not a CPU LLVM knows for " + triple +
            " (give 'host', or a name such as x86-64-v3, x86-64-v4, skylake-avx512, znver4)";
    return false;
  }
  std::unique_ptr<llvm::MCSubtargetInfo> cpu(
      target->createMCSubtargetInfo(triple, requested, ""));
  if (!cpu->checkFeatures("+64bit")) {
    error = "'" + requested + "' cannot run 64-bit code, which kiln's kernels are";
    return false;
  }
  return true;
}

/// One file per kernel `dump` wants: NAME + suffix, written by the printer
/// `forEach` hands out per kernel.
template <typename ForEach>
static bool dumpKernels(const KernelDumpRequest &dump, const char *suffix, ForEach &&forEach,
                        std::string &error) {
  if (dump.dir.empty())
    return true;
  bool ok = true;
  forEach([&](llvm::StringRef name, auto &&print) {
    if (dump.wanted(name))
      ok = ok && writeWith(dump.dir + "/" + name.str() + suffix, print, error);
  });
  return ok;
}

bool lowerKernelsToLLVMDialect(ModuleOp kernels, TimingScope &timing, std::string &error,
                               const PassManagerSetup &setupPassManager) {
  MLIRContext *ctx = kernels.getContext();
  // Math functions as polynomials (vectorisable; erf as one rational
  // function, ErfApproximation.h), bf16 conversions as integer arithmetic
  // (Bf16Conversions.h), then everything to LLVM.
  RewritePatternSet approximations(ctx);
  populateErfApproximationPatterns(approximations);
  populateMathPolynomialApproximationPatterns(approximations);
  populateBf16ConversionPatterns(approximations);
  if (failed(applyPatternsAndFoldGreedily(kernels, std::move(approximations)))) {
    error = "math approximation did not converge";
    return false;
  }
  PassManager pm(ctx);
  pm.enableTiming(timing);
  if (setupPassManager && failed(setupPassManager(pm))) {
    error = "MLIR's pass-manager options do not apply to the kernel lowering";
    return false;
  }
  pm.addPass(createConvertSCFToCFPass());
  pm.addPass(createConvertMathToLLVMPass());
  pm.addPass(createConvertMathToLibmPass());
  pm.addPass(createArithToLLVMConversionPass());
  pm.addPass(createFinalizeMemRefToLLVMConversionPass());
  pm.addPass(createConvertControlFlowToLLVMPass());
  pm.addPass(createConvertFuncToLLVMPass());
  pm.addPass(createReconcileUnrealizedCastsPass());
  if (failed(pm.run(kernels))) {
    error = "lowering the kernels to the LLVM dialect failed";
    return false;
  }
  return true;
}

/// A kernel as a module of its own with the declarations it may call, and
/// each op's location (which node of the graph it computes) as an alias
/// listed at the end.
static void printAlone(Operation *fn, ModuleOp kernels, llvm::raw_ostream &os) {
  OwningOpRef<ModuleOp> alone = ModuleOp::create(fn->getLoc());
  for (auto decl : kernels.getOps<LLVM::LLVMFuncOp>())
    if (decl.isExternal())
      alone->getBody()->push_back(decl->clone());
  alone->getBody()->push_back(fn->clone());
  alone->print(os, OpPrintingFlags().enableDebugInfo(true, false));
}

/// The kernels left in `kernels` lowered to the LLVM dialect (dumped as
/// `dump` asks, then with line info: each op's location) and LLVM IR, then
/// compiled to objects (KernelObjects.h).
static bool compileToObjects(ModuleOp kernels, const CpuTarget &target,
                             const std::map<std::string, std::string> &symbolOf,
                             const std::string &dir, const std::string &cacheDir,
                             const KernelDumpRequest &dump,
                             std::map<std::string, KernelDumps> *dumps,
                             TimingScope &timing, std::string &error,
                             const PassManagerSetup &setupPassManager) {
  MLIRContext *ctx = kernels.getContext();
  TimingScope stage = timing.nest("lower to the LLVM dialect");
  if (!lowerKernelsToLLVMDialect(kernels, stage, error, setupPassManager))
    return false;
  if (!dumpKernels(dump, ".llvm.mlir", [&](auto &&write) {
        for (auto fn : kernels.getOps<LLVM::LLVMFuncOp>())
          if (!fn.isExternal())
            write(fn.getName(), [&](llvm::raw_ostream &os) { printAlone(fn, kernels, os); });
      }, error))
    return false;
  if (!dump.dir.empty())
    addKernelLineInfo(kernels);

  stage.stop();
  stage = timing.nest("translate to LLVM IR");
  registerBuiltinDialectTranslation(*ctx);
  registerLLVMDialectTranslation(*ctx);
  llvm::LLVMContext llvmContext;
  std::unique_ptr<llvm::Module> llvmModule = translateModuleToLLVMIR(kernels, llvmContext, "kernels");
  if (!llvmModule) {
    error = "translating the kernels to LLVM IR failed";
    return false;
  }

  initializeNativeTarget();
  std::unique_ptr<llvm::TargetMachine> machine = cpuTargetMachine(target, error);
  if (!machine)
    return false;
  llvmModule->setTargetTriple(machine->getTargetTriple().str());
  llvmModule->setDataLayout(machine->createDataLayout());
  for (llvm::Function &f : *llvmModule)
    if (!f.isDeclaration()) {
      f.addFnAttr("target-cpu", target.cpu);
      if (!target.features.empty())
        f.addFnAttr("target-features", target.features);
    }

  // O2 with this CPU's cost model (vectorisation, unrolling), a kernel at a
  // time on every core.
  stage.stop();
  return compileKernelObjects(*llvmModule, target, symbolOf, dir, cacheDir, dumps, timing, error);
}

bool buildKernelLibrary(ModuleOp kernels, const CpuTarget &target, const std::string &dir,
                        const KernelDumpRequest &dump, const std::string &cacheDir,
                        const CompiledModel &model,
                        const std::map<std::string, std::string> &bodyKeys, KernelStats &stats,
                        TimingScope &timing, std::string &error,
                        const PassManagerSetup &setupPassManager) {
  auto dumpEach = [&](const char *suffix, auto &&forEach) {
    return dumpKernels(dump, suffix, forEach, error);
  };
  if (!dump.dir.empty()) {
    if (std::error_code ec = llvm::sys::fs::create_directories(dump.dir)) {
      error = "cannot create " + dump.dir + ": " + ec.message();
      return false;
    }
    // A region whose body equals an earlier one's runs that region's kernel.
    std::vector<std::vector<std::string>> regions(model.kernels.size());
    for (const Program &p : model.programs)
      for (const Thunk &t : p.thunks)
        if (const KernelLaunch *k = t.as<KernelLaunch>())
          if (!llvm::is_contained(regions[k->kernel], t.name))
            regions[k->kernel].push_back(t.name);
    std::string index;
    for (auto [k, users] : llvm::zip(model.kernels, regions))
      index += k.name + "  " + k.op + "  " + k.name + ".mlir " + k.name + ".llvm.mlir " +
               k.name + ".in.ll " + k.name + ".ll " + k.name + ".s  runs " +
               llvm::join(users, " ") + "\n";
    if (!writeTextFile(dump.dir + "/index.txt", index, error))
      return false;
  }
  if (!dumpEach(".mlir", [&](auto &&write) {
        for (auto fn : kernels.getOps<func::FuncOp>())
          write(fn.getName(), [&](llvm::raw_ostream &os) { printAlone(fn, kernels, os); });
      }))
    return false;

  // Each kernel's object from the cache where it is there: those kernels
  // are not lowered at all. The others are compiled and join the cache. A
  // dumping compile neither takes from the cache (the dumps show every
  // kernel lowered) nor fills it (its objects carry line info).
  TimingScope stage = timing.nest("take from the cache");
  bool caching = dump.dir.empty() && !cacheDir.empty() &&
                 !llvm::sys::fs::create_directories(cacheDir);
  std::vector<std::pair<std::string, std::string>> symbols; // kernel name -> symbol
  std::map<std::string, std::string> toCompile;
  std::vector<std::string> objects;
  stats = {};
  for (func::FuncOp fn : llvm::make_early_inc_range(kernels.getOps<func::FuncOp>())) {
    std::string name = fn.getName().str();
    std::string symbol = kernelSymbol(bodyKeys.at(name), target);
    symbols.push_back({name, symbol});
    objects.push_back(dir + "/" + symbol + ".o");
    ++stats.kernels;
    if (caching &&
        !llvm::sys::fs::copy_file(cacheDir + "/" + symbol + ".o", objects.back())) {
      ++stats.cached;
      fn.erase();
    } else {
      toCompile[name] = symbol;
    }
  }
  stage.stop();
  std::map<std::string, KernelDumps> dumps;
  if (!toCompile.empty() &&
      !compileToObjects(kernels, target, toCompile, dir, caching ? cacheDir : "", dump,
                        dump.dir.empty() ? nullptr : &dumps, timing, error,
                        setupPassManager))
    return false;
  // Under the kernel's own name (the object's symbol is its hash).
  for (auto [suffix, part] : {std::pair{".in.ll", &KernelDumps::unoptimizedIR},
                              std::pair{".ll", &KernelDumps::optimizedIR},
                              std::pair{".s", &KernelDumps::assembly}})
    if (!dumpEach(suffix, [&](auto &&write) {
          for (const auto &[name, symbol] : symbols)
            write(name, [&](llvm::raw_ostream &os) {
              os << underName(dumps[symbol].*part, symbol, name);
            });
        }))
      return false;

  stage = timing.nest("link kernels.so");
  // Link with the system compiler driver (libm for any libm calls left);
  // each kernel's name is its object's symbol.
  auto cc = llvm::sys::findProgramByName("cc");
  if (!cc) {
    error = "no 'cc' on PATH to link the kernel library (apt-get install gcc)";
    return false;
  }
  std::string library = dir + "/kernels.so";
  std::vector<std::string> argv = {*cc, "-shared", "-o", library};
  argv.insert(argv.end(), objects.begin(), objects.end());
  for (auto &[name, symbol] : symbols)
    argv.push_back("-Wl,--defsym=" + name + "=" + symbol);
  argv.push_back("-lm");
  std::vector<llvm::StringRef> args(argv.begin(), argv.end());
  std::string message;
  int rc = llvm::sys::ExecuteAndWait(*cc, args, std::nullopt, {}, 0, 0, &message);
  for (const std::string &object : objects)
    llvm::sys::fs::remove(object);
  if (rc != 0) {
    error = "linking " + library + " failed" + (message.empty() ? "" : ": " + message);
    return false;
  }
  return true;
}


} // namespace kiln
