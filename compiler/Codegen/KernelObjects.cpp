//===- KernelObjects.cpp - kernels to object files, in parallel, cached ---===//
#include "compiler/Codegen/KernelObjects.h"

#include "llvm/Bitcode/BitcodeReader.h"
#include "llvm/Bitcode/BitcodeWriter.h"
#include "llvm/Config/llvm-config.h"
#include "llvm/IR/LLVMContext.h"
#include "llvm/IR/LegacyPassManager.h"
#include "llvm/IR/Module.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/SHA256.h"
#include "llvm/Support/raw_ostream.h"
#include "llvm/Target/TargetMachine.h"
#include "llvm/Transforms/Utils/Cloning.h"

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <unistd.h>

namespace kiln {
namespace {

/// What changes an object besides its IR: bump the tag when kiln's
/// optimisation or code generation changes.
std::string objectSalt(const CpuTarget &target) {
  return "kiln-kernel-object-1 LLVM " LLVM_VERSION_STRING " " + target.cpu + " " +
         target.features + "\n";
}

/// One distinct kernel: a module holding only its body, as bitcode (each
/// worker parses it into a context of its own).
struct Job {
  std::string symbol, bitcode, ir, error;
  bool cached = false;
};

/// The kernel `f` alone in a module: global variables it reads come along
/// (internal, so that objects do not clash), other functions stay
/// declarations and unused ones go.
std::unique_ptr<llvm::Module> kernelAlone(const llvm::Module &module, const llvm::Function &f) {
  llvm::ValueToValueMapTy map;
  auto part = llvm::CloneModule(module, map, [&](const llvm::GlobalValue *g) {
    return g == &f || llvm::isa<llvm::GlobalVariable>(g);
  });
  for (llvm::GlobalVariable &g : llvm::make_early_inc_range(part->globals())) {
    if (g.use_empty())
      g.eraseFromParent();
    else
      g.setLinkage(llvm::GlobalValue::InternalLinkage);
  }
  for (llvm::Function &other : llvm::make_early_inc_range(*part))
    if (other.isDeclaration() && other.use_empty())
      other.eraseFromParent();
  part->setModuleIdentifier("kernel");
  part->setSourceFileName("kernel");
  return part;
}

bool writeFile(const std::string &path, llvm::StringRef bytes) {
  std::error_code ec;
  llvm::raw_fd_ostream os(path, ec, llvm::sys::fs::OF_None);
  if (ec)
    return false;
  os << bytes;
  os.close();
  return !os.has_error();
}

/// Optimises and compiles one kernel into `object` (and `kept`, in the
/// cache, unless empty).
void compile(Job &job, const CpuTarget &target, const std::string &object, const std::string &kept,
             bool keepIR) {
  llvm::LLVMContext context;
  auto parsed = llvm::parseBitcodeFile(
      llvm::MemoryBufferRef(job.bitcode, job.symbol), context);
  if (!parsed) {
    job.error = "kernel " + job.symbol + ": " + llvm::toString(parsed.takeError());
    return;
  }
  std::unique_ptr<llvm::Module> module = std::move(*parsed);
  auto machine = cpuTargetMachine(target, job.error);
  if (!machine)
    return;
  optimize(*module, *machine, llvm::OptimizationLevel::O2);
  if (keepIR)
    if (llvm::Function *f = module->getFunction(job.symbol)) {
      llvm::raw_string_ostream os(job.ir);
      f->print(os);
    }
  llvm::SmallVector<char, 0> bytes;
  llvm::raw_svector_ostream os(bytes);
  llvm::legacy::PassManager codegen;
  if (machine->addPassesToEmitFile(codegen, os, nullptr, llvm::CodeGenFileType::ObjectFile)) {
    job.error = "LLVM cannot emit an object file for this target";
    return;
  }
  codegen.run(*module);
  llvm::StringRef code(bytes.data(), bytes.size());
  if (!writeFile(object, code))
    job.error = "cannot write " + object;
  else if (!kept.empty())
    storeInCache(kept, code);
}

} // namespace

std::string contentKey(llvm::StringRef text) {
  std::array<uint8_t, 32> digest = llvm::SHA256::hash(llvm::arrayRefFromStringRef(text));
  return llvm::toHex(llvm::ArrayRef<uint8_t>(digest).take_front(16), /*LowerCase=*/true);
}

void storeInCache(const std::string &path, llvm::StringRef bytes) {
  static std::atomic<int> serial{0};
  std::string partial = path + "." + std::to_string(::getpid()) + "." + std::to_string(serial++);
  if (writeFile(partial, bytes) && !llvm::sys::fs::rename(partial, path))
    return;
  llvm::sys::fs::remove(partial);
}

std::string defaultKernelCache() {
  if (const char *dir = std::getenv("KILN_CACHE_DIR"))
    return dir;
  if (const char *xdg = std::getenv("XDG_CACHE_HOME"); xdg && *xdg)
    return std::string(xdg) + "/kiln/kernels";
  if (const char *home = std::getenv("HOME"); home && *home)
    return std::string(home) + "/.cache/kiln/kernels";
  return "";
}

bool compileKernelObjects(const llvm::Module &module, const CpuTarget &target,
                          const std::string &outDir, const std::string &cacheDir, bool keepIR,
                          KernelObjects &out, mlir::TimingScope &timing, std::string &error) {
  mlir::TimingScope stage = timing.nest("split and hash the kernels");
  std::string salt = objectSalt(target);
  std::map<std::string, size_t> jobOf;
  std::vector<Job> jobs;
  for (const llvm::Function &f : module) {
    if (f.isDeclaration())
      continue;
    std::unique_ptr<llvm::Module> part = kernelAlone(module, f);
    llvm::Function *alone = part->getFunction(f.getName());
    // Hashed under one neutral name: the same body under any name is one kernel.
    alone->setName("kiln_kernel");
    std::string text = salt;
    llvm::raw_string_ostream os(text);
    part->print(os, nullptr);
    std::string symbol = "kiln_" + contentKey(text);
    ++out.kernels;
    out.symbols.push_back({f.getName().str(), symbol});
    if (jobOf.count(symbol))
      continue;
    alone->setName(symbol);
    Job job;
    job.symbol = symbol;
    llvm::raw_string_ostream bitcode(job.bitcode);
    llvm::WriteBitcodeToFile(*part, bitcode);
    jobOf[symbol] = jobs.size();
    jobs.push_back(std::move(job));
  }
  out.distinct = jobs.size();

  stage.stop();
  stage = timing.nest("optimise and compile (or take from the cache)");
  bool caching = !cacheDir.empty() && !llvm::sys::fs::create_directories(cacheDir);
  forEachInParallel(jobs.size(), [&](size_t i) {
    Job &job = jobs[i];
    std::string object = outDir + "/" + job.symbol + ".o";
    std::string kept = cacheDir + "/" + job.symbol + ".o";
    if (caching && !keepIR && !llvm::sys::fs::copy_file(kept, object)) {
      job.cached = true;
      return;
    }
    compile(job, target, object, caching ? kept : "", keepIR);
  });

  for (Job &job : jobs) {
    if (!job.error.empty()) {
      error = job.error;
      return false;
    }
    out.cached += job.cached;
    out.objects.push_back(outDir + "/" + job.symbol + ".o");
    if (keepIR)
      out.optimizedIR[job.symbol] = std::move(job.ir);
  }
  return true;
}

} // namespace kiln
