//===- KernelEmitter.cpp - loop-nest kernels in scf/arith/math/memref -----===//
#include "compiler/Codegen/KernelEmitter.h"
#include "compiler/Codegen/KernelObjects.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/AsmState.h"

#include "llvm/Support/raw_ostream.h"

#include <limits>


using namespace mlir;

namespace kiln {

OpPrintingFlags keyPrintingFlags() {
  return OpPrintingFlags()
      .useLocalScope()
      .skipRegions(false)
      .printGenericOpForm(true) // no value names (OpAsmOpInterface): only code
      .enableDebugInfo(false)
      .elideLargeElementsAttrs(std::numeric_limits<int64_t>::max())
      .elideLargeResourceString(std::numeric_limits<int64_t>::max());
}

Value reassoc(Value v) {
  if (Operation *op = v.getDefiningOp())
    op->setAttr("fastmath", arith::FastMathFlagsAttr::get(
                                op->getContext(),
                                arith::FastMathFlags::reassoc | arith::FastMathFlags::contract));
  return v;
}

Value reductionMax(OpBuilder &b, Location loc, Value acc, Value x) {
  using F = arith::FastMathFlags;
  auto flags = arith::FastMathFlagsAttr::get(b.getContext(),
                                             F::reassoc | F::contract | F::nnan | F::nsz);
  return b.create<arith::MaxNumFOp>(loc, acc, x, flags);
}

Value memrefOverPointer(OpBuilder &b, Location loc, Value p, Type elem, int64_t n) {
  n = std::max<int64_t>(n, 1);
  auto i64 = b.getI64Type();
  auto ptr = LLVM::LLVMPointerType::get(b.getContext());
  auto desc = LLVM::LLVMStructType::getLiteral(
      b.getContext(), {ptr, ptr, i64, LLVM::LLVMArrayType::get(i64, 1), LLVM::LLVMArrayType::get(i64, 1)});
  auto c = [&](int64_t v) { return b.create<LLVM::ConstantOp>(loc, i64, b.getI64IntegerAttr(v)); };
  Value d = b.create<LLVM::UndefOp>(loc, desc);
  d = b.create<LLVM::InsertValueOp>(loc, d, p, ArrayRef<int64_t>{0});
  d = b.create<LLVM::InsertValueOp>(loc, d, p, ArrayRef<int64_t>{1});
  d = b.create<LLVM::InsertValueOp>(loc, d, c(0), ArrayRef<int64_t>{2});
  d = b.create<LLVM::InsertValueOp>(loc, d, c(n), ArrayRef<int64_t>{3, 0});
  d = b.create<LLVM::InsertValueOp>(loc, d, c(1), ArrayRef<int64_t>{4, 0});
  return b.create<UnrealizedConversionCastOp>(loc, MemRefType::get({n}, elem), d).getResult(0);
}

Value bufferMemref(OpBuilder &b, Location loc, Value buffers, LLVM::GEPArg i, Type elem,
                   int64_t n) {
  auto ptr = LLVM::LLVMPointerType::get(b.getContext());
  Value slot = b.create<LLVM::GEPOp>(loc, ptr, ptr, buffers, ArrayRef<LLVM::GEPArg>{i});
  return memrefOverPointer(b, loc, b.create<LLVM::LoadOp>(loc, ptr, slot), elem, n);
}

SmallVector<int64_t> rowMajorStrides(ArrayRef<int64_t> shape) {
  SmallVector<int64_t> s(shape.size(), 1);
  for (int64_t d = static_cast<int64_t>(shape.size()) - 2; d >= 0; --d)
    s[d] = s[d + 1] * shape[d + 1];
  return s;
}

KernelEmitter::KernelEmitter(MLIRContext &context)
    : context(context), b(&context) {
  context.loadDialect<arith::ArithDialect, math::MathDialect, memref::MemRefDialect,
                      scf::SCFDialect, func::FuncDialect, LLVM::LLVMDialect>();
  // Named, so that --mlir-print-ir-tree-dir files its passes apart from
  // the step's module.
  kernels = ModuleOp::create(b.getUnknownLoc(), StringRef("kiln_kernels"));
}

func::FuncOp KernelEmitter::startKernel(StringRef name, Location loc, ArrayRef<KernelArg> args,
                                        SmallVectorImpl<Value> &memrefs,
                                        Value &begin, Value &end) {
  auto ptr = LLVM::LLVMPointerType::get(&context);
  auto i64 = b.getI64Type();
  b.setInsertionPointToEnd(kernels->getBody());
  // Region names are unique; kernels of unnamed regions (kiln-name-regions
  // not run) are told apart by a number.
  std::string unique = name.str();
  for (int n = 1; kernels->lookupSymbol(unique); ++n)
    unique = name.str() + "_" + std::to_string(n);
  auto fn = b.create<func::FuncOp>(loc, unique, b.getFunctionType({ptr, i64, i64, ptr}, {}));
  b.setInsertionPointToStart(fn.addEntryBlock());
  workspaceArg = fn.getArgument(3);
  stackBytes = workspaceUsed = 0;
  for (auto [i, arg] : llvm::enumerate(args))
    memrefs.push_back(bufferMemref(b, loc, fn.getArgument(0), static_cast<int32_t>(i), arg.type, arg.elements));
  begin = b.create<arith::IndexCastOp>(loc, b.getIndexType(), fn.getArgument(1));
  end = b.create<arith::IndexCastOp>(loc, b.getIndexType(), fn.getArgument(2));
  return fn;
}

std::string KernelEmitter::finish(func::FuncOp fn) {
  // Identical loop nests (the same op on the same shapes in every block of
  // a network) share one kernel.
  std::string name = fn.getName().str(), text;
  llvm::raw_string_ostream os(text);
  // Numbered within the kernel alone: Block::print would number the whole
  // module for every kernel (quadratic: 7.9 s of DINO's compile).
  AsmState state(fn, keyPrintingFlags());
  fn.getBody().front().print(os, state);
  auto [it, inserted] = bodies.try_emplace(text, name);
  if (inserted) {
    workspace[name] = workspaceUsed;
    keys[name] = contentKey(text);
    return name;
  }
  fn.erase();
  return it->second;
}

Value KernelEmitter::scratch(OpBuilder &entry, Type elem, int64_t n) {
  Location loc = entry.getUnknownLoc();
  n = std::max<int64_t>(n, 1);
  int64_t bytes = n * std::max<int64_t>(1, elem.getIntOrFloatBitWidth() / 8);
  if (stackBytes + bytes <= kStackScratchBytes) {
    stackBytes += bytes;
    return entry.create<memref::AllocaOp>(loc, MemRefType::get({n}, elem));
  }
  // 64-byte aligned pieces of the workspace, one after another.
  auto ptr = LLVM::LLVMPointerType::get(&context);
  Value offset = entry.create<LLVM::ConstantOp>(loc, entry.getI64Type(),
                                                entry.getI64IntegerAttr(workspaceUsed));
  Value p = entry.create<LLVM::GEPOp>(loc, ptr, entry.getI8Type(), workspaceArg,
                                      ValueRange{offset});
  workspaceUsed += (bytes + 63) / 64 * 64;
  return memrefOverPointer(entry, loc, p, elem, n);
}

std::string KernelEmitter::customRange(StringRef name, Location loc, ArrayRef<KernelArg> args,
                                       const RangeBody &body) {
  SmallVector<Value> memrefs;
  Value begin, end;
  func::FuncOp fn = startKernel(name, loc, args, memrefs, begin, end);
  // Allocations go before everything the body builds.
  OpBuilder entry(b.getInsertionBlock(), b.getInsertionPoint());
  auto marker = b.create<arith::ConstantIndexOp>(loc, 0);
  entry.setInsertionPoint(marker);
  body(b, entry, memrefs, begin, end);
  b.create<func::ReturnOp>(loc);
  marker.erase();
  return finish(fn);
}

std::string KernelEmitter::custom(StringRef name, Location loc, ArrayRef<KernelArg> args,
                                  const RowBody &body) {
  return customRange(name, loc, args, [&](OpBuilder &ob, OpBuilder &entry, ValueRange memrefs,
                                   Value begin, Value end) {
    Location loc = ob.getUnknownLoc();
    auto loop = ob.create<scf::ForOp>(loc, begin, end, ob.create<arith::ConstantIndexOp>(loc, 1));
    OpBuilder inner = OpBuilder::atBlockBegin(loop.getBody());
    body(inner, entry, memrefs, loop.getInductionVar());
    ob.setInsertionPointAfter(loop);
  });
}

} // namespace kiln
