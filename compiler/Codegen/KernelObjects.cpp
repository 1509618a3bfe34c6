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
#include <cstdlib>

namespace kiln {
namespace {

/// One kernel: a module holding only its body, as bitcode (each worker
/// parses it into a context of its own).
struct Job {
  std::string symbol, bitcode, error;
  std::string unoptimizedIR, ir, assembly; // when dumping
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
/// cache, unless empty); keeps its optimised IR in job.ir if asked.
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
  // Whole modules (triple, data layout, metadata): opt and llc take them.
  if (keepIR)
    llvm::raw_string_ostream(job.unoptimizedIR) << *module;
  optimize(*module, *machine, llvm::OptimizationLevel::O2);
  if (keepIR) {
    llvm::raw_string_ostream(job.ir) << *module;
    llvm::SmallString<0> assembly;
    llvm::raw_svector_ostream os(assembly);
    llvm::legacy::PassManager printer;
    if (!machine->addPassesToEmitFile(printer, os, nullptr, llvm::CodeGenFileType::AssemblyFile)) {
      std::unique_ptr<llvm::Module> copy = llvm::CloneModule(*module);
      printer.run(*copy);
      job.assembly = assembly.str().str();
    }
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
  // A unique name (not pid-based: containers sharing the cache share pids).
  llvm::SmallString<256> partial;
  if (llvm::sys::fs::createUniqueFile(path + ".%%%%%%%%.partial", partial))
    return;
  if (writeFile(std::string(partial), bytes) && !llvm::sys::fs::rename(partial, path))
    return;
  llvm::sys::fs::remove(partial);
}

std::string compilerIdentity() {
  std::string identity = "LLVM " LLVM_VERSION_STRING;
  llvm::sys::fs::file_status self;
  std::string exe = llvm::sys::fs::getMainExecutable(nullptr, nullptr);
  if (!exe.empty() && !llvm::sys::fs::status(exe, self))
    identity += " " + exe + " " + std::to_string(self.getSize()) + " " +
                std::to_string(self.getLastModificationTime().time_since_epoch().count());
  return identity;
}

std::string kernelSymbol(const std::string &bodyKey, const CpuTarget &target) {
  static const std::string identity = compilerIdentity();
  return "kiln_" + contentKey("kiln-kernel-object-2 " + identity + " " + target.cpu +
                              " " + target.features + "\n" + bodyKey);
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
                          const std::map<std::string, std::string> &symbolOf,
                          const std::string &outDir, const std::string &cacheDir,
                          std::map<std::string, KernelDumps> *dumps, mlir::TimingScope &timing,
                          std::string &error) {
  mlir::TimingScope stage = timing.nest("split the kernels");
  std::vector<Job> jobs;
  for (const llvm::Function &f : module) {
    if (f.isDeclaration())
      continue;
    std::unique_ptr<llvm::Module> part = kernelAlone(module, f);
    Job job;
    job.symbol = symbolOf.at(f.getName().str());
    part->getFunction(f.getName())->setName(job.symbol);
    llvm::raw_string_ostream bitcode(job.bitcode);
    llvm::WriteBitcodeToFile(*part, bitcode);
    jobs.push_back(std::move(job));
  }
  stage.stop();
  stage = timing.nest("optimise and compile");
  forEachInParallel(jobs.size(), [&](size_t i) {
    Job &job = jobs[i];
    compile(job, target, outDir + "/" + job.symbol + ".o",
            cacheDir.empty() ? "" : cacheDir + "/" + job.symbol + ".o", dumps != nullptr);
  });
  for (Job &job : jobs) {
    if (!job.error.empty()) {
      error = job.error;
      return false;
    }
    if (dumps)
      (*dumps)[job.symbol] = {std::move(job.unoptimizedIR), std::move(job.ir),
                              std::move(job.assembly)};
  }
  return true;
}

} // namespace kiln
