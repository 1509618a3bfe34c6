//===- KernelLibrary.cpp - kernels to LLVM IR, object file, .so -----------===//
#include "compiler/Codegen/KernelLibrary.h"
#include "compiler/Codegen/KernelObjects.h"

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

bool writeText(const std::string &path, const std::function<void(llvm::raw_ostream &)> &fn,
               std::string &error) {
  std::error_code ec;
  llvm::raw_fd_ostream os(path, ec);
  if (ec) {
    error = "cannot write " + path + ": " + ec.message();
    return false;
  }
  fn(os);
  return true;
}

/// A kernel's optimised IR printed under its own name (its object's symbol
/// is the hash of its body).
std::string underName(std::string ir, const std::string &symbol, const std::string &name) {
  size_t at = ir.find("@" + symbol);
  if (at != std::string::npos)
    ir.replace(at + 1, symbol.size(), name);
  return ir;
}

} // namespace

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

bool buildKernelLibrary(ModuleOp kernels, const CpuTarget &target, const std::string &dir,
                        const std::string &dumpDir, const std::string &cacheDir,
                        const std::vector<Kernel> &info, KernelStats &stats,
                        TimingScope &timing, std::string &error) {
  MLIRContext *ctx = kernels.getContext();
  TimingScope stage = timing.nest("lower to the LLVM dialect");
  // One file per kernel and stage: NAME + suffix.
  auto dumpEach = [&](const char *suffix, auto &&forEach) {
    if (dumpDir.empty())
      return true;
    bool ok = true;
    forEach([&](llvm::StringRef name, auto &&print) {
      ok = ok && writeText(dumpDir + "/" + name.str() + suffix, print, error);
    });
    return ok;
  };
  if (!dumpDir.empty()) {
    if (std::error_code ec = llvm::sys::fs::create_directories(dumpDir)) {
      error = "cannot create " + dumpDir + ": " + ec.message();
      return false;
    }
    std::string index;
    for (const Kernel &k : info)
      index += k.name + "  " + k.op + "  " + k.name + ".mlir " + k.name + ".llvm.mlir " +
               k.name + ".ll\n";
    if (!writeText(dumpDir + "/index.txt", [&](llvm::raw_ostream &os) { os << index; }, error))
      return false;
  }
  if (!dumpEach(".mlir", [&](auto &&write) {
        for (auto fn : kernels.getOps<func::FuncOp>())
          write(fn.getName(), [&](llvm::raw_ostream &os) { fn.print(os); });
      }))
    return false;

  // Math functions as polynomials (vectorisable), then everything to LLVM.
  RewritePatternSet approximations(ctx);
  populateMathPolynomialApproximationPatterns(approximations);
  if (failed(applyPatternsAndFoldGreedily(kernels, std::move(approximations)))) {
    error = "math approximation did not converge";
    return false;
  }
  PassManager pm(ctx);
  pm.enableTiming(stage);
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
  if (!dumpEach(".llvm.mlir", [&](auto &&write) {
        for (auto fn : kernels.getOps<LLVM::LLVMFuncOp>())
          if (!fn.isExternal())
            write(fn.getName(), [&](llvm::raw_ostream &os) { fn.print(os); });
      }))
    return false;

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

  static std::once_flag once;
  std::call_once(once, [] {
    llvm::InitializeNativeTarget();
    llvm::InitializeNativeTargetAsmPrinter();
  });
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
  // time on every core, each distinct kernel once, cached across compiles.
  KernelObjects objects;
  stage.stop();
  if (!compileKernelObjects(*llvmModule, target, dir, cacheDir, !dumpDir.empty(), objects, timing,
                            error))
    return false;
  stats = {objects.kernels, objects.distinct, objects.cached};
  if (!dumpEach(".ll", [&](auto &&write) {
        for (const auto &entry : objects.symbols)
          write(entry.first, [&](llvm::raw_ostream &os) {
            os << underName(objects.optimizedIR[entry.second], entry.second, entry.first);
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
  argv.insert(argv.end(), objects.objects.begin(), objects.objects.end());
  for (auto &[name, symbol] : objects.symbols)
    argv.push_back("-Wl,--defsym=" + name + "=" + symbol);
  argv.push_back("-lm");
  std::vector<llvm::StringRef> args(argv.begin(), argv.end());
  std::string message;
  int rc = llvm::sys::ExecuteAndWait(*cc, args, std::nullopt, {}, 0, 0, &message);
  for (const std::string &object : objects.objects)
    llvm::sys::fs::remove(object);
  if (rc != 0) {
    error = "linking " + library + " failed" + (message.empty() ? "" : ": " + message);
    return false;
  }
  return true;
}

} // namespace kiln
