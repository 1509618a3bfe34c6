//===- CudaKernels.cpp - PTX for the fused regions ------------------------===//
#include "compiler/Codegen/CudaKernels.h"

#include "compiler/Codegen/FusedBody.h"
#include "compiler/Codegen/KernelLibrary.h"

#include "mlir/Conversion/GPUToNVVM/GPUToNVVMPass.h"
#include "mlir/Conversion/MathToLLVM/MathToLLVM.h"
#include "mlir/Conversion/ReconcileUnrealizedCasts/ReconcileUnrealizedCasts.h"
#include "mlir/Conversion/SCFToControlFlow/SCFToControlFlow.h"
#include "mlir/Dialect/ControlFlow/IR/ControlFlow.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/GPU/Transforms/Passes.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Math/Transforms/Passes.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Target/LLVMIR/Dialect/Builtin/BuiltinToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/LLVMIR/LLVMToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/NVVM/NVVMToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Export.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

#include "llvm/IR/LegacyPassManager.h"
#include "llvm/IRReader/IRReader.h"
#include "llvm/Linker/Linker.h"
#include "llvm/Passes/PassBuilder.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/IR/Module.h"
#include "llvm/MC/TargetRegistry.h"
#include "llvm/Support/raw_ostream.h"
#include "llvm/Target/TargetMachine.h"

#include <mutex>

extern "C" {
void LLVMInitializeNVPTXTargetInfo();
void LLVMInitializeNVPTXTarget();
void LLVMInitializeNVPTXTargetMC();
void LLVMInitializeNVPTXAsmPrinter();
}

using namespace mlir;

namespace kiln {
namespace {

using namespace fused;

/// A flat memref<n x T> over a raw device pointer.
Value memrefFromPointer(OpBuilder &b, Location loc, Value p, Type elem, int64_t n) {
  auto i64 = b.getI64Type();
  auto ptr = LLVM::LLVMPointerType::get(b.getContext());
  auto desc = LLVM::LLVMStructType::getLiteral(
      b.getContext(), {ptr, ptr, i64, LLVM::LLVMArrayType::get(i64, 1), LLVM::LLVMArrayType::get(i64, 1)});
  auto c = [&](int64_t v) { return b.create<LLVM::ConstantOp>(loc, i64, b.getI64IntegerAttr(v)); };
  Value d = b.create<LLVM::UndefOp>(loc, desc);
  d = b.create<LLVM::InsertValueOp>(loc, d, p, ArrayRef<int64_t>{0});
  d = b.create<LLVM::InsertValueOp>(loc, d, p, ArrayRef<int64_t>{1});
  d = b.create<LLVM::InsertValueOp>(loc, d, c(0), ArrayRef<int64_t>{2});
  d = b.create<LLVM::InsertValueOp>(loc, d, c(std::max<int64_t>(n, 1)), ArrayRef<int64_t>{3, 0});
  d = b.create<LLVM::InsertValueOp>(loc, d, c(1), ArrayRef<int64_t>{4, 0});
  return b.create<UnrealizedConversionCastOp>(loc, MemRefType::get({std::max<int64_t>(n, 1)}, elem), d)
      .getResult(0);
}

/// The fused body on a GPU block: distributed loops, block-wide folds,
/// scratch in the workspace at row · slab + offset.
class BlockBody : public FusedBody {
public:
  BlockBody(FusionOp fusion, OpBuilder &b, ValueRange memrefs, Value row, int64_t rows,
            Value workspace, Value slab)
      : FusedBody(fusion, b, b, memrefs, row, rows), workspace(workspace), slab(slab) {}

  int64_t slabBytes = 0;

protected:
  Value tid() { return b.create<gpu::ThreadIdOp>(loc, gpu::Dimension::x); }
  Value bdim() { return b.create<gpu::BlockDimOp>(loc, gpu::Dimension::x); }

  /// Flat index -> coordinates of `shape`.
  SmallVector<Value> coordsOf(Value flat, ArrayRef<int64_t> shape) {
    SmallVector<Value> c(shape.size());
    for (int64_t d = (int64_t)shape.size() - 1; d >= 0; --d) {
      c[d] = b.create<arith::RemUIOp>(loc, flat, idx(shape[d]));
      flat = b.create<arith::DivUIOp>(loc, flat, idx(shape[d]));
    }
    return c;
  }

  void loops(ArrayRef<int64_t> shape, const std::function<void(ValueRange)> &fn) override {
    int64_t n = 1;
    for (int64_t d : shape)
      n *= d;
    b.create<scf::ForOp>(loc, tid(), idx(n), bdim(), ValueRange{},
                         [&](OpBuilder &, Location, Value i, ValueRange) {
                           fn(coordsOf(i, shape));
                           b.create<scf::YieldOp>(loc);
                         });
  }

  Value fold(ArrayRef<int64_t> shape, Value init, Combine kind,
             const std::function<Value(Value, ValueRange)> &step) override {
    int64_t n = 1;
    for (int64_t d : shape)
      n *= d;
    auto loop = b.create<scf::ForOp>(loc, tid(), idx(n), bdim(), ValueRange{init},
                                     [&](OpBuilder &, Location, Value i, ValueRange acc) {
                                       b.create<scf::YieldOp>(loc, step(acc[0], coordsOf(i, shape)));
                                     });
    auto op = kind == Combine::Add   ? gpu::AllReduceOperation::ADD
              : kind == Combine::Max ? gpu::AllReduceOperation::MAXIMUMF
                                     : gpu::AllReduceOperation::MINIMUMF;
    return b.create<gpu::AllReduceOp>(loc, loop.getResult(0),
                                      gpu::AllReduceOperationAttr::get(b.getContext(), op),
                                      /*uniform=*/true);
  }

  View allocScratch(Value v) override {
    Shape local = dropDim(fullShape(v), parallelDim(v));
    int64_t n = 1;
    for (int64_t d : local)
      n *= d;
    Type elem = cast<RankedTensorType>(v.getType()).getElementType();
    int64_t width = elem.isInteger(1) ? 1 : 4;
    int64_t offset = slabBytes;
    slabBytes += (n * width + 15) / 16 * 16;
    // workspace + row·slab + offset, as a flat memref of this type.
    auto i64 = b.getI64Type();
    auto ptr = LLVM::LLVMPointerType::get(b.getContext());
    Value rowI = b.create<arith::IndexCastOp>(loc, i64, row);
    Value byteOff = b.create<LLVM::AddOp>(
        loc, b.create<LLVM::MulOp>(loc, rowI, slab),
        b.create<LLVM::ConstantOp>(loc, i64, b.getI64IntegerAttr(offset)));
    Value p = b.create<LLVM::GEPOp>(loc, ptr, b.getI8Type(), workspace, ValueRange{byteOff});
    return View{memrefFromPointer(b, loc, p, elem, n), idx(0), local, rowMajorStrides(local), nullptr};
  }

  void storeUniform(Value x, Value memref, Value index) override {
    Value first = b.create<arith::CmpIOp>(loc, arith::CmpIPredicate::eq, tid(), idx(0));
    auto branch = b.create<scf::IfOp>(loc, first, /*withElse=*/false);
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(&branch.getThenRegion().front());
    b.create<memref::StoreOp>(loc, x, memref, index);
  }

  void sync() override { b.create<gpu::BarrierOp>(loc); }

private:
  Value workspace, slab;
};

Type elementOf(Value v) { return cast<RankedTensorType>(v.getType()).getElementType(); }

int64_t elementsOf(Value v) {
  return std::max<int64_t>(1, cast<RankedTensorType>(v.getType()).getNumElements());
}

/// One gpu.func for `fusion` in `gpuModule`.
LogicalResult buildKernel(FusionOp fusion, gpu::GPUModuleOp gpuModule, const std::string &name,
                          PtxKernel &info) {
  OpBuilder b(gpuModule.getBody()->getTerminator());
  Location loc = fusion.getLoc();
  auto ptr = LLVM::LLVMPointerType::get(b.getContext());
  SmallVector<Type> args(fusion.getInputs().size() + fusion.getNumResults() + 1, ptr);
  auto fn = b.create<gpu::GPUFuncOp>(loc, name, b.getFunctionType(args, {}));
  fn->setAttr(gpu::GPUDialect::getKernelFuncAttrName(), b.getUnitAttr());
  b.setInsertionPointToStart(&fn.getBody().front());
  Value row = b.create<gpu::BlockIdOp>(loc, gpu::Dimension::x);
  Value slab = b.create<LLVM::ConstantOp>(loc, b.getI64Type(), b.getI64IntegerAttr(0));
  info.rows = fusion->getAttrOfType<IntegerAttr>("rows").getInt();
  SmallVector<Value> memrefs;
  for (auto [i, v] : llvm::enumerate(fusion.getInputs()))
    memrefs.push_back(memrefFromPointer(b, loc, fn.getArgument(i), elementOf(v), elementsOf(v)));
  for (auto [i, r] : llvm::enumerate(fusion.getResults()))
    memrefs.push_back(memrefFromPointer(b, loc, fn.getArgument(fusion.getInputs().size() + i),
                                        elementOf(r), elementsOf(r)));
  BlockBody real(fusion, b, memrefs, row, info.rows, fn.getArgument(args.size() - 1), slab);
  if (failed(real.run()))
    return failure();
  b.create<gpu::ReturnOp>(loc);
  slab.getDefiningOp()->setAttr("value", b.getI64IntegerAttr(real.slabBytes));
  info.name = name;
  info.workspaceBytesPerRow = real.slabBytes;
  return success();
}

/// CUDA's libdevice bitcode (the __nv_* math functions the NVVM lowering
/// calls), or "" when CUDA is not installed.
std::string libdevicePath() {
  for (const char *dir : {"/usr/local/cuda/nvvm/libdevice", "/usr/lib/nvidia-cuda-toolkit/libdevice"}) {
    std::string path = std::string(dir) + "/libdevice.10.bc";
    if (llvm::sys::fs::exists(path))
      return path;
  }
  return "";
}

} // namespace

bool emitPtx(ModuleOp module, const std::vector<std::string> &archs,
             std::map<std::string, std::string> &ptx, std::vector<PtxKernel> &kernels,
             std::string &error) {
  MLIRContext *ctx = module.getContext();
  ctx->loadDialect<gpu::GPUDialect, NVVM::NVVMDialect, LLVM::LLVMDialect, scf::SCFDialect,
                   math::MathDialect, memref::MemRefDialect, arith::ArithDialect,
                   cf::ControlFlowDialect>();
  OwningOpRef<ModuleOp> container = ModuleOp::create(module.getLoc());
  (*container)->setAttr(gpu::GPUDialect::getContainerModuleAttrName(), UnitAttr::get(ctx));
  OpBuilder b = OpBuilder::atBlockEnd(container->getBody());
  auto gpuModule = b.create<gpu::GPUModuleOp>(module.getLoc(), "kiln_kernels");
  int64_t count = 0;
  bool ok = true;
  module.walk([&](FusionOp f) {
    PtxKernel info;
    if (ok && failed(buildKernel(f, gpuModule, "g" + std::to_string(count++) + "_fused", info)))
      ok = false;
    kernels.push_back(info);
  });
  if (!ok) {
    error = "a fused region has an op the CUDA codegen does not handle";
    return false;
  }
  RewritePatternSet patterns(ctx);
  populateMathPolynomialApproximationPatterns(patterns);
  populateGpuAllReducePatterns(patterns);
  if (failed(applyPatternsAndFoldGreedily(*container, std::move(patterns)))) {
    error = "GPU reductions and math did not lower";
    return false;
  }
  PassManager pm(ctx);
  auto &onGpu = pm.nest<gpu::GPUModuleOp>();
  onGpu.addPass(createConvertSCFToCFPass());
  onGpu.addPass(createConvertGpuOpsToNVVMOps()); // math functions -> libdevice calls
  onGpu.addPass(createConvertMathToLLVMPass());    // what is left (fma)
  onGpu.addPass(createReconcileUnrealizedCastsPass());
  if (failed(pm.run(*container))) {
    error = "lowering the fused regions to NVVM failed";
    return false;
  }
  // The lowered functions, as a plain module for LLVM IR translation.
  OwningOpRef<ModuleOp> llvmModule = ModuleOp::create(module.getLoc());
  OpBuilder lb = OpBuilder::atBlockEnd(llvmModule->getBody());
  for (Operation &op : gpuModule.getBody()->without_terminator())
    lb.clone(op);
  registerBuiltinDialectTranslation(*ctx);
  registerLLVMDialectTranslation(*ctx);
  registerNVVMDialectTranslation(*ctx);
  static std::once_flag once;
  std::call_once(once, [] {
    LLVMInitializeNVPTXTargetInfo();
    LLVMInitializeNVPTXTarget();
    LLVMInitializeNVPTXTargetMC();
    LLVMInitializeNVPTXAsmPrinter();
  });
  for (const std::string &arch : archs) {
    llvm::LLVMContext llvmContext;
    auto ir = translateModuleToLLVMIR(*llvmModule, llvmContext, "kiln_kernels");
    if (!ir) {
      error = "translating the GPU kernels to LLVM IR failed";
      return false;
    }
    std::string triple = "nvptx64-nvidia-cuda";
    const llvm::Target *target = llvm::TargetRegistry::lookupTarget(triple, error);
    if (!target)
      return false;
    std::unique_ptr<llvm::TargetMachine> machine(target->createTargetMachine(
        triple, arch, "+ptx80", llvm::TargetOptions(), std::nullopt, std::nullopt,
        llvm::CodeGenOptLevel::Aggressive));
    ir->setTargetTriple(triple);
    ir->setDataLayout(machine->createDataLayout());
    // Link the libdevice functions used, then optimise (inlines them).
    std::string libdevice = libdevicePath();
    if (libdevice.empty()) {
      error = "no CUDA libdevice (libdevice.10.bc) found; PTX needs a CUDA installation";
      return false;
    }
    llvm::SMDiagnostic diag;
    std::unique_ptr<llvm::Module> lib = llvm::parseIRFile(libdevice, diag, llvmContext);
    if (!lib) {
      error = libdevice + ": " + diag.getMessage().str();
      return false;
    }
    lib->setTargetTriple(triple);
    lib->setDataLayout(ir->getDataLayout());
    if (llvm::Linker::linkModules(*ir, std::move(lib), llvm::Linker::LinkOnlyNeeded)) {
      error = "linking libdevice failed";
      return false;
    }
    optimizeAtO3(*ir, *machine);
    llvm::SmallString<0> text;
    llvm::raw_svector_ostream os(text);
    llvm::legacy::PassManager codegen;
    if (machine->addPassesToEmitFile(codegen, os, nullptr, llvm::CodeGenFileType::AssemblyFile)) {
      error = "the NVPTX backend cannot emit PTX";
      return false;
    }
    codegen.run(*ir);
    ptx[arch] = std::string(text.str());
  }
  return true;
}

} // namespace kiln
