//===- KernelJit.cpp - kernels in the LLVM dialect run in the test process ===//
#include "KernelJit.h"

#include "mlir/Target/LLVMIR/Dialect/Builtin/BuiltinToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/LLVMIR/LLVMToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Export.h"

#include "llvm/ExecutionEngine/Orc/ExecutionUtils.h"
#include "llvm/ExecutionEngine/Orc/LLJIT.h"
#include "llvm/IR/Module.h"
#include "llvm/Support/TargetSelect.h"

using namespace mlir;

namespace kiln::test {

std::unique_ptr<KernelJit> KernelJit::create(ModuleOp llvmDialect, const std::vector<JitSymbol> &symbols,
                                             std::string &error) {
  auto fail = [&](llvm::Error e) {
    error = llvm::toString(std::move(e));
    return nullptr;
  };
  llvm::InitializeNativeTarget();
  llvm::InitializeNativeTargetAsmPrinter();
  registerBuiltinDialectTranslation(*llvmDialect.getContext());
  registerLLVMDialectTranslation(*llvmDialect.getContext());
  auto context = std::make_unique<llvm::LLVMContext>();
  std::unique_ptr<llvm::Module> module = translateModuleToLLVMIR(llvmDialect, *context, "kernels");
  if (!module) {
    error = "translating to LLVM IR failed";
    return nullptr;
  }
  auto machine = llvm::orc::JITTargetMachineBuilder::detectHost();
  if (!machine)
    return fail(machine.takeError());
  // Compiled quickly: the kernels run once.
  machine->setCodeGenOptLevel(llvm::CodeGenOptLevel::None);
  auto jit = llvm::orc::LLJITBuilder().setJITTargetMachineBuilder(std::move(*machine)).create();
  if (!jit)
    return fail(jit.takeError());
  module->setDataLayout((*jit)->getDataLayout());
  llvm::orc::JITDylib &lib = (*jit)->getMainJITDylib();
  llvm::orc::SymbolMap given;
  for (auto [name, address] : symbols)
    given[(*jit)->mangleAndIntern(name)] = {llvm::orc::ExecutorAddr::fromPtr(address),
                                            llvm::JITSymbolFlags::Exported};
  if (auto e = lib.define(llvm::orc::absoluteSymbols(std::move(given))))
    return fail(std::move(e));
  auto process = llvm::orc::DynamicLibrarySearchGenerator::GetForCurrentProcess(
      (*jit)->getDataLayout().getGlobalPrefix());
  if (!process)
    return fail(process.takeError());
  lib.addGenerator(std::move(*process));
  if (auto e = (*jit)->addIRModule(llvm::orc::ThreadSafeModule(std::move(module), std::move(context))))
    return fail(std::move(e));
  auto made = std::unique_ptr<KernelJit>(new KernelJit);
  made->jit = std::move(*jit);
  return made;
}

KernelJit::~KernelJit() = default;

void *KernelJit::lookup(const std::string &name) {
  auto address = jit->lookup(name);
  if (!address) {
    llvm::consumeError(address.takeError());
    return nullptr;
  }
  return address->toPtr<void *>();
}

} // namespace kiln::test
