//===- CudaKernels.cpp - PTX for every kernel of a step -------------------===//
#include "compiler/Codegen/CudaKernels.h"

#include "compiler/Codegen/ErfApproximation.h"
#include "compiler/Codegen/FusedBody.h"
#include "compiler/Codegen/KernelLibrary.h"
#include "compiler/Codegen/KernelLineInfo.h"
#include "compiler/Codegen/KernelObjects.h"

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
#include "mlir/IR/Dominance.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Target/LLVMIR/Dialect/Builtin/BuiltinToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/LLVMIR/LLVMToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/NVVM/NVVMToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Export.h"
#include "mlir/Transforms/ControlFlowSinkUtils.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

#include "llvm/IR/LegacyPassManager.h"
#include "llvm/IRReader/IRReader.h"
#include "llvm/Linker/Linker.h"
#include "llvm/Passes/PassBuilder.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MathExtras.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/IR/Module.h"
#include "llvm/MC/TargetRegistry.h"
#include "llvm/Support/raw_ostream.h"
#include "llvm/Target/TargetMachine.h"

#include <algorithm>
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

/// Bytes of scratch for `n` elements of `width` bytes, 16-byte aligned.
int64_t scratchBytes(int64_t n, int64_t width) { return (n * width + 15) / 16 * 16; }

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
    Value all = b.create<gpu::AllReduceOp>(loc, loop.getResult(0),
                                           gpu::AllReduceOperationAttr::get(b.getContext(), op),
                                           /*uniform=*/true);
    // The lowered all-reduce broadcasts through its shared buffer, whose slot
    // 0 is also warp 0's partial: without this barrier the same fold's next
    // run (a serial loop's next row) could overwrite it before a lagging warp
    // has read the result.
    sync();
    return all;
  }

  using FusedBody::allocScratch;
  View allocScratch(ArrayRef<int64_t> local, Type elem) override {
    int64_t n = 1;
    for (int64_t d : local)
      n *= d;
    int64_t offset = slabBytes;
    slabBytes += scratchBytes(n, elem.isInteger(1) ? 1 : 4);
    // workspace + row·slab + offset, as a flat memref of this type.
    auto i64 = b.getI64Type();
    auto ptr = LLVM::LLVMPointerType::get(b.getContext());
    Value rowI = b.create<arith::IndexCastOp>(loc, i64, row);
    Value byteOff = b.create<LLVM::AddOp>(
        loc, b.create<LLVM::MulOp>(loc, rowI, slab),
        b.create<LLVM::ConstantOp>(loc, i64, b.getI64IntegerAttr(offset)));
    Value p = b.create<LLVM::GEPOp>(loc, ptr, b.getI8Type(), workspace, ValueRange{byteOff});
    Shape shape(local.begin(), local.end());
    return View{memrefOverPointer(b, loc, p, elem, n), idx(0), shape, rowMajorStrides(shape), nullptr};
  }

  void storeUniform(Value x, Value memref, Value index) override {
    Value first = b.create<arith::CmpIOp>(loc, arith::CmpIPredicate::eq, tid(), idx(0));
    auto branch = b.create<scf::IfOp>(loc, first, /*withElse=*/false);
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(&branch.getThenRegion().front());
    storeElement(x, memref, index);
  }

  void sync() override { b.create<gpu::BarrierOp>(loc); }
  bool accumulatesWholeRows() const override { return false; }

private:
  Value workspace, slab;
};

/// Threads per block for `work` independent items of a block-per-row
/// kernel: a power-of-two number of warps, at most 256 threads (enough to
/// hide latency, small enough for many blocks). The power of two is for
/// the folds: MLIR's all-reduce lowering ends with every lane of its
/// second stage (one per warp) storing its sum to the same shared slot,
/// and its xor butterfly leaves them all the full sum only when the warps
/// are a power of two. With 5 warps (a 3×3 convolution's 144 weights per
/// row), lanes 1-3 hold partial sums and the slot held whichever lane
/// stored last (GpuBlockEmulationTest, resnet-fm-dino, random schedule).
constexpr int32_t kMaxThreads = 256;
/// The registers a thread-per-row kernel may use (see buildRowPerThread).
constexpr int32_t kThreadPerRowRegisters = 255;
int64_t threadsFor(int64_t work) {
  int64_t warps = llvm::PowerOf2Ceil((std::max<int64_t>(work, 1) + 31) / 32);
  return std::min<int64_t>(warps * 32, kMaxThreads);
}

/// A kernel function `name(void **buffers, i64 rows, ptr workspace)`.
gpu::GPUFuncOp startKernel(OpBuilder &b, Location loc, StringRef name) {
  auto ptr = LLVM::LLVMPointerType::get(b.getContext());
  auto fn = b.create<gpu::GPUFuncOp>(loc, name,
                                     b.getFunctionType({ptr, b.getI64Type(), ptr}, {}));
  fn->setAttr(gpu::GPUDialect::getKernelFuncAttrName(), b.getUnitAttr());
  // .maxntid: ptxas keeps registers within what a block of threadsFor's
  // largest size can hold, so every launch fits.
  fn->setAttr(NVVM::NVVMDialect::getMaxntidAttrName(),
              b.getDenseI32ArrayAttr({kMaxThreads, 1, 1}));
  b.setInsertionPointToStart(&fn.getBody().front());
  return fn;
}

/// The memref types the CPU kernel `cpu` gives its buffers, in order.
SmallVector<MemRefType> bufferTypes(func::FuncOp cpu) {
  SmallVector<MemRefType> types;
  for (auto c : cpu.getBody().front().getOps<UnrealizedConversionCastOp>())
    types.push_back(cast<MemRefType>(c.getResult(0).getType()));
  return types;
}

/// The fused region of `cpu` with a block per row (BlockBody).
LogicalResult buildRowPerBlock(func::FuncOp cpu, FusionOp fusion, gpu::GPUModuleOp gpuModule,
                               GpuLaunch &launch) {
  OpBuilder b(gpuModule.getBody()->getTerminator());
  Location loc = fusion.getLoc();
  gpu::GPUFuncOp fn = startKernel(b, loc, cpu.getName());
  SmallVector<Value> memrefs;
  for (auto [i, type] : llvm::enumerate(bufferTypes(cpu)))
    memrefs.push_back(bufferMemref(b, loc, fn.getArgument(0), static_cast<int32_t>(i), type.getElementType(),
                                   type.getNumElements()));
  Value row = b.create<gpu::BlockIdOp>(loc, gpu::Dimension::x);
  Value slab = b.create<LLVM::ConstantOp>(loc, b.getI64Type(), b.getI64IntegerAttr(0));
  auto rowsAttr = fusion->getAttrOfType<IntegerAttr>("rows");
  int64_t rows = rowsAttr ? rowsAttr.getInt() : 1; // as the CPU kernel (emitFusionKernel)
  BlockBody body(fusion, b, memrefs, row, rows, fn.getArgument(2), slab);
  if (failed(body.run()))
    return failure();
  b.create<gpu::ReturnOp>(loc);
  slab.getDefiningOp()->setAttr("value", b.getI64IntegerAttr(body.slabBytes));
  // The block spreads the row's largest local tensor over its threads.
  int64_t widest = 1;
  fusion.getBody().walk([&](Operation *op) {
    for (Value r : op->getResults())
      if (auto t = dyn_cast<RankedTensorType>(r.getType()))
        widest = std::max<int64_t>(widest, t.getNumElements() / std::max<int64_t>(rows, 1));
  });
  launch = {threadsFor(widest), true, body.slabBytes};
  return success();
}

/// Moves each buffer's pointer, read from the kernel's table (its first
/// argument, never written), and the view built on it into the loop that
/// uses it alone. The CPU kernel reads them all at its start; on a GPU a
/// multi-tensor update then kept some 170 pointers live across its
/// per-tensor loops and spilled (164 bytes a thread, ptxas sm_90).
void sinkBufferPointers(gpu::GPUFuncOp fn) {
  Value table = fn.getArgument(0);
  auto readsTable = [&](Operation *op) {
    auto load = dyn_cast<LLVM::LoadOp>(op);
    auto at = load ? load.getAddr().getDefiningOp<LLVM::GEPOp>() : nullptr;
    return at && at.getBase() == table;
  };
  SmallVector<mlir::Region *> loops;
  for (auto loop : fn.getBody().front().getOps<scf::ForOp>())
    loops.push_back(&loop.getRegion());
  DominanceInfo dominance(fn);
  controlFlowSink(
      loops, dominance,
      [&](Operation *op, mlir::Region *) { return isMemoryEffectFree(op) || readsTable(op); },
      [](Operation *op, mlir::Region *into) { op->moveBefore(&into->front(), into->front().begin()); });
}

/// The CPU kernel `cpu` on thread gid = blockIdx·blockDim + threadIdx, for
/// rows [gid, min(gid + 1, rows)); its stack scratch (memref.alloca) and
/// its CPU workspace (`cpuWorkspaceBytes`, read through its last argument)
/// become the thread's slab of the workspace.
void buildRowPerThread(func::FuncOp cpu, int64_t cpuWorkspaceBytes, gpu::GPUModuleOp gpuModule,
                       GpuLaunch &launch) {
  OpBuilder b(gpuModule.getBody()->getTerminator());
  Location loc = cpu.getLoc();
  gpu::GPUFuncOp fn = startKernel(b, loc, cpu.getName());
  auto i64 = b.getI64Type();
  auto ptr = LLVM::LLVMPointerType::get(b.getContext());
  auto bytesOf = [](MemRefType type) {
    return scratchBytes(type.getNumElements(), std::max<int64_t>(type.getElementTypeBitWidth() / 8, 1));
  };
  // The slab: the allocas one after another, then the CPU workspace.
  int64_t allocaBytes = 0;
  cpu.walk([&](memref::AllocaOp a) { allocaBytes += bytesOf(a.getType()); });
  int64_t slab = allocaBytes + scratchBytes(cpuWorkspaceBytes, 1);
  auto constant = [&](int64_t v) { return b.create<LLVM::ConstantOp>(loc, i64, b.getI64IntegerAttr(v)); };
  Value gid = b.create<arith::AddIOp>(
      loc, b.create<arith::MulIOp>(loc, b.create<gpu::BlockIdOp>(loc, gpu::Dimension::x),
                                   b.create<gpu::BlockDimOp>(loc, gpu::Dimension::x)),
      b.create<gpu::ThreadIdOp>(loc, gpu::Dimension::x));
  Value begin = b.create<arith::IndexCastOp>(loc, i64, gid);
  Value next = b.create<arith::AddIOp>(loc, begin, b.create<arith::ConstantIntOp>(loc, 1, 64));
  Value end = b.create<arith::MinSIOp>(loc, next, fn.getArgument(1));
  auto slabAt = [&](int64_t offset) -> Value {
    Value at = b.create<LLVM::AddOp>(loc, b.create<LLVM::MulOp>(loc, begin, constant(slab)),
                                     constant(offset));
    return b.create<LLVM::GEPOp>(loc, ptr, b.getI8Type(), fn.getArgument(2), ValueRange{at});
  };
  IRMapping map;
  map.map(cpu.getArgument(0), fn.getArgument(0));
  map.map(cpu.getArgument(1), begin);
  map.map(cpu.getArgument(2), end);
  map.map(cpu.getArgument(3), slabAt(allocaBytes));
  for (Operation &op : cpu.getBody().front()) {
    if (isa<func::ReturnOp>(op))
      b.create<gpu::ReturnOp>(loc);
    else
      b.clone(op, map);
  }
  SmallVector<memref::AllocaOp> allocas;
  fn.walk([&](memref::AllocaOp a) { allocas.push_back(a); });
  int64_t offset = 0;
  for (memref::AllocaOp a : allocas) {
    MemRefType type = a.getType();
    b.setInsertionPoint(a);
    a.replaceAllUsesWith(memrefOverPointer(b, loc, slabAt(offset), type.getElementType(),
                                           type.getNumElements()));
    a.erase();
    offset += bytesOf(type);
  }
  sinkBufferPointers(fn);
  // A thread per row launches rows/256 blocks (24 for the supervised ViT's
  // multi-tensor update), fewer than a GPU's SMs, so registers never limit
  // its occupancy; left alone, ptxas aimed at 64 and spilled (164 bytes a
  // thread on sm_90), while it needs 96.
  fn->setAttr(NVVM::NVVMDialect::getMaxnregAttrName(), b.getI32IntegerAttr(kThreadPerRowRegisters));
  launch = {kMaxThreads, false, slab}; // the runtime launches no more than the rows
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

OwningOpRef<ModuleOp> buildGpuKernels(ModuleOp kernelModule,
                                      const std::map<std::string, Operation *> &fusionKernels,
                                      std::vector<Kernel> &kernels, std::string &error) {
  MLIRContext *ctx = kernelModule.getContext();
  ctx->loadDialect<gpu::GPUDialect, NVVM::NVVMDialect, LLVM::LLVMDialect, scf::SCFDialect,
                   math::MathDialect, memref::MemRefDialect, arith::ArithDialect,
                   cf::ControlFlowDialect>();
  OwningOpRef<ModuleOp> container = ModuleOp::create(kernelModule.getLoc(), StringRef("kiln_gpu"));
  (*container)->setAttr(gpu::GPUDialect::getContainerModuleAttrName(), UnitAttr::get(ctx));
  OpBuilder b = OpBuilder::atBlockEnd(container->getBody());
  auto gpuModule = b.create<gpu::GPUModuleOp>(kernelModule.getLoc(), "kiln_kernels");
  for (Kernel &k : kernels) {
    auto cpu = kernelModule.lookupSymbol<func::FuncOp>(k.name);
    if (!cpu) {
      error = "no kernel '" + k.name + "' in the kernel module";
      return nullptr;
    }
    auto fusion = fusionKernels.find(k.name);
    if (fusion == fusionKernels.end()) {
      buildRowPerThread(cpu, k.workspaceBytes, gpuModule, k.gpu);
    } else if (failed(buildRowPerBlock(cpu, cast<FusionOp>(fusion->second), gpuModule, k.gpu))) {
      error = "kernel '" + k.name + "': a fused region has an op the CUDA codegen does not handle";
      return nullptr;
    }
  }
  return container;
}

bool lowerGpuFolds(ModuleOp container, TimingScope &timing, std::string &error,
                   const PassManagerSetup &setupPassManager) {
  MLIRContext *ctx = container.getContext();
  // Structured loops become blocks first: the all-reduce lowering splits
  // the block it is in, which inside an scf.for (a serial loop's fold)
  // would leave the loop with several blocks, which scf.for forbids.
  PassManager toBranches(ctx);
  toBranches.enableTiming(timing);
  if (setupPassManager && failed(setupPassManager(toBranches))) {
    error = "MLIR's pass-manager options do not apply to the NVVM lowering";
    return false;
  }
  toBranches.nest<gpu::GPUModuleOp>().addPass(createConvertSCFToCFPass());
  if (failed(toBranches.run(container))) {
    error = "the GPU kernels' loops did not lower";
    return false;
  }
  RewritePatternSet patterns(ctx);
  populateErfApproximationPatterns(patterns); // as on the CPU
  populateMathPolynomialApproximationPatterns(patterns);
  populateGpuAllReducePatterns(patterns);
  if (failed(applyPatternsAndFoldGreedily(container, std::move(patterns)))) {
    error = "GPU reductions and math did not lower";
    return false;
  }
  return true;
}

bool emitPtx(ModuleOp kernelModule,
             const std::map<std::string, Operation *> &fusionKernels,
             const std::vector<std::string> &archs, std::vector<Kernel> &kernels,
             const std::string &cacheDir, bool lineInfo, TimingScope &timing,
             std::map<std::string, std::string> &ptx, std::string &error,
             const PassManagerSetup &setupPassManager) {
  TimingScope stage = timing.nest("lower to NVVM");
  MLIRContext *ctx = kernelModule.getContext();
  OwningOpRef<ModuleOp> container = buildGpuKernels(kernelModule, fusionKernels, kernels, error);
  if (!container)
    return false;
  auto gpuModule = *container->getOps<gpu::GPUModuleOp>().begin();
  // Each architecture's PTX, cached under a hash of the kernels as built
  // here: recompiling unchanged kernels skips the lowering and LLVM.
  std::string libdevice = libdevicePath(), key; // the kernels' key, hashed once
  bool caching = !lineInfo && !cacheDir.empty() && !llvm::sys::fs::create_directories(cacheDir);
  if (caching) {
    std::string built = "kiln-ptx-2 " + compilerIdentity() + " " + libdevice + "\n";
    llvm::raw_string_ostream os(built);
    container->print(os, keyPrintingFlags());
    key = contentKey(built);
  }
  auto cached = [&](const std::string &arch) {
    return cacheDir + "/ptx_" + contentKey(arch + " " + key) + "." + arch + ".ptx";
  };
  if (caching)
    for (const std::string &arch : archs)
      if (auto kept = llvm::MemoryBuffer::getFile(cached(arch)))
        ptx[arch] = (*kept)->getBuffer().str();
  if (caching && ptx.size() == archs.size())
    return true;
  ptx.clear();
  if (!lowerGpuFolds(*container, stage, error, setupPassManager))
    return false;
  PassManager pm(ctx);
  pm.enableTiming(stage);
  if (setupPassManager && failed(setupPassManager(pm))) {
    error = "MLIR's pass-manager options do not apply to the NVVM lowering";
    return false;
  }
  auto &onGpu = pm.nest<gpu::GPUModuleOp>();
  onGpu.addPass(createConvertGpuOpsToNVVMOps()); // math functions -> libdevice calls
  onGpu.addPass(createConvertMathToLLVMPass());    // what is left (fma)
  onGpu.addPass(createReconcileUnrealizedCastsPass());
  if (failed(pm.run(*container))) {
    error = "lowering the fused regions to NVVM failed";
    return false;
  }
  // The lowered functions, as a plain module for LLVM IR translation.
  OwningOpRef<ModuleOp> llvmModule = ModuleOp::create(kernelModule.getLoc());
  OpBuilder lb = OpBuilder::atBlockEnd(llvmModule->getBody());
  for (Operation &op : gpuModule.getBody()->without_terminator())
    lb.clone(op);
  if (lineInfo)
    addKernelLineInfo(*llvmModule);
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
  // Translated and linked one arch after another (that reads the MLIR);
  // optimised and compiled to PTX on a thread each.
  stage.stop();
  stage = timing.nest("translate to LLVM IR, link libdevice");
  struct ArchJob {
    std::string arch, text, error;
    std::unique_ptr<llvm::LLVMContext> context = std::make_unique<llvm::LLVMContext>();
    std::unique_ptr<llvm::Module> ir;
    std::unique_ptr<llvm::TargetMachine> machine;
  };
  std::vector<ArchJob> jobs(archs.size());
  std::string triple = "nvptx64-nvidia-cuda";
  const llvm::Target *target = llvm::TargetRegistry::lookupTarget(triple, error);
  if (!target)
    return false;
  if (libdevice.empty()) {
    error = "no CUDA libdevice (libdevice.10.bc) found; PTX needs a CUDA installation";
    return false;
  }
  for (size_t i = 0; i < archs.size(); ++i) {
    ArchJob &job = jobs[i];
    job.arch = archs[i];
    job.ir = translateModuleToLLVMIR(*llvmModule, *job.context, "kiln_kernels");
    if (!job.ir) {
      error = "translating the GPU kernels to LLVM IR failed";
      return false;
    }
    job.machine.reset(target->createTargetMachine(triple, job.arch, "+ptx80",
                                                  llvm::TargetOptions(), std::nullopt,
                                                  std::nullopt, llvm::CodeGenOptLevel::Aggressive));
    job.ir->setTargetTriple(triple);
    job.ir->setDataLayout(job.machine->createDataLayout());
    // Link the libdevice functions used; O3 then inlines them.
    llvm::SMDiagnostic diag;
    std::unique_ptr<llvm::Module> lib = llvm::parseIRFile(libdevice, diag, *job.context);
    if (!lib) {
      error = libdevice + ": " + diag.getMessage().str();
      return false;
    }
    lib->setTargetTriple(triple);
    lib->setDataLayout(job.ir->getDataLayout());
    if (llvm::Linker::linkModules(*job.ir, std::move(lib), llvm::Linker::LinkOnlyNeeded)) {
      error = "linking libdevice failed";
      return false;
    }
  }
  stage.stop();
  stage = timing.nest("optimise and compile");
  auto compile = [](ArchJob &job) {
    optimize(*job.ir, *job.machine, llvm::OptimizationLevel::O3);
    llvm::SmallString<0> text;
    llvm::raw_svector_ostream os(text);
    llvm::legacy::PassManager codegen;
    if (job.machine->addPassesToEmitFile(codegen, os, nullptr,
                                         llvm::CodeGenFileType::AssemblyFile)) {
      job.error = "the NVPTX backend cannot emit PTX";
      return;
    }
    codegen.run(*job.ir);
    job.text = std::string(text.str());
  };
  forEachInParallel(jobs.size(), [&](size_t i) { compile(jobs[i]); });
  for (ArchJob &job : jobs) {
    if (!job.error.empty()) {
      error = job.error;
      return false;
    }
    if (caching)
      storeInCache(cached(job.arch), job.text);
    ptx[job.arch] = std::move(job.text);
  }
  return true;
}

} // namespace kiln
