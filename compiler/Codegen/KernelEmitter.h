//===- KernelEmitter.h - loop-nest kernels in scf/arith/math/memref -*- C++ -*-===//
//
// Every non-GEMM kernel is built here around a body the caller supplies
// (the fused body of a kiln.fusion, FusionKernel.cpp): a kernel is
// `void name(void **buffers, int64_t begin, int64_t end, char *workspace)`
// and computes rows [begin, end) of its outer loop, so the runtime can
// split the rows across threads. Buffers arrive as raw pointers and become
// flat static memrefs inside. Scratch lives on the stack while it is small
// and otherwise in `workspace`, the calling thread's own slab of
// workspaceBytes(kernel) bytes. Kernels with identical bodies are emitted
// once.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_CODEGEN_KERNELEMITTER_H
#define KILN_CODEGEN_KERNELEMITTER_H

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"

#include <functional>
#include <map>

namespace kiln {

/// One kernel argument: a flat buffer of `elements` values of `type`.
struct KernelArg {
  mlir::Type type;
  int64_t elements;
};

class KernelEmitter {
public:
  explicit KernelEmitter(mlir::MLIRContext &context);

  /// The kernels so far, as a module of func.func ops.
  mlir::ModuleOp module() { return *kernels; }

  /// Kernels that compute one kiln.fusion, by name: the CUDA codegen
  /// spreads such a region's row over a block (CudaKernels.cpp).
  std::map<std::string, mlir::Operation *> fusionKernels;

  /// A kernel called `name` (a symbol: letters, digits, '_'), at `loc`, of
  /// any body: a loop over rows [begin, end); `body` builds
  /// one row's work at `b` (the row index is `row`); allocations that
  /// should live for the whole call go through `entry` (before the loop).
  using RowBody = std::function<void(mlir::OpBuilder &b, mlir::OpBuilder &entry,
                                     mlir::ValueRange memrefs, mlir::Value row)>;
  std::string custom(llvm::StringRef name, mlir::Location loc, llvm::ArrayRef<KernelArg> args,
                     const RowBody &body);

  /// A kernel that gets its row range [begin, end) itself (several
  /// regions' rows laid end to end in one kernel).
  using RangeBody = std::function<void(mlir::OpBuilder &b, mlir::OpBuilder &entry,
                                       mlir::ValueRange memrefs, mlir::Value begin,
                                       mlir::Value end)>;
  std::string customRange(llvm::StringRef name, mlir::Location loc,
                          llvm::ArrayRef<KernelArg> args, const RangeBody &body);

  /// A flat scratch memref of `n` elements of `elem` for one call of the
  /// kernel being built, allocated at `entry`: on the stack until the
  /// kernel's stack scratch reaches kStackScratchBytes, then in the
  /// workspace (a pooling or batch-norm region's local tensors can be
  /// megabytes, more than a thread's stack).
  mlir::Value scratch(mlir::OpBuilder &entry, mlir::Type elem, int64_t n);
  /// A hash of each kernel's body, by kernel name: equal for equal bodies,
  /// so what the kernel cache files its object under (KernelObjects.h).
  const std::map<std::string, std::string> &bodyKeys() const { return keys; }
  /// The workspace bytes one call of kernel `name` needs.
  int64_t workspaceBytes(const std::string &name) const {
    auto it = workspace.find(name);
    return it == workspace.end() ? 0 : it->second;
  }
  static constexpr int64_t kStackScratchBytes = 64 << 10;

private:
  /// A new kernel function with its argument memrefs; the builder is left
  /// in its body, `begin` and `end` are index values.
  mlir::func::FuncOp startKernel(llvm::StringRef name, mlir::Location loc,
                                 llvm::ArrayRef<KernelArg> args,
                                 llvm::SmallVectorImpl<mlir::Value> &memrefs,
                                 mlir::Value &begin, mlir::Value &end);

  /// Returns the kernel's name, or an identical earlier kernel's (and
  /// drops this one).
  std::string finish(mlir::func::FuncOp fn);

  mlir::MLIRContext &context;
  mlir::OwningOpRef<mlir::ModuleOp> kernels;
  std::map<std::string, std::string> bodies; // printed body -> kernel name
  std::map<std::string, int64_t> workspace;  // kernel name -> bytes per call
  std::map<std::string, std::string> keys;   // kernel name -> body key
  // The kernel being built: its workspace argument and what it has used.
  mlir::Value workspaceArg;
  int64_t stackBytes = 0, workspaceUsed = 0;
  mlir::OpBuilder b;
};

/// How kernels and regions are printed for the texts that key them (the
/// emitter's merging, the kernel and PTX caches): every region, no
/// locations, nothing elided, numbered within the op, in generic form
/// (values numbered, not named after their nodes: equal code keys equal), whatever
/// --mlir-print-* options kiln compile was given (OpPrintingFlags' defaults
/// follow them: with --mlir-print-skip-regions different kernels would
/// print alike).
mlir::OpPrintingFlags keyPrintingFlags();

/// Marks the float op defining `v` reassociable (and contractable) so that
/// LLVM vectorises reductions over it. The order is then fixed when the
/// kernel is compiled, so results stay the same run to run.
mlir::Value reassoc(mlir::Value v);
/// max(acc, x) as a step of a reduction: maxnum with no-NaN and
/// reassociation, which LLVM vectorises as a tree; `maximumf` (NaN
/// propagating) stays a serial chain of 3-4 cycle steps. A NaN in the row
/// still reaches the result through the values themselves (x - max, e^x).
mlir::Value reductionMax(mlir::OpBuilder &b, mlir::Location loc, mlir::Value acc, mlir::Value x);

/// A flat memref<n x T> over the raw pointer `p` (an !llvm.ptr value).
mlir::Value memrefOverPointer(mlir::OpBuilder &b, mlir::Location loc, mlir::Value p,
                              mlir::Type elem, int64_t n);
/// Element `i` (a constant or an i64 value) of the pointer array `buffers`
/// as a flat memref<n x T>: how every kernel (CPU or GPU) reaches its
/// buffers.
mlir::Value bufferMemref(mlir::OpBuilder &b, mlir::Location loc, mlir::Value buffers,
                         mlir::LLVM::GEPArg i, mlir::Type elem, int64_t n);

/// Row-major element strides of `shape`.
llvm::SmallVector<int64_t> rowMajorStrides(llvm::ArrayRef<int64_t> shape);

} // namespace kiln

#endif // KILN_CODEGEN_KERNELEMITTER_H
