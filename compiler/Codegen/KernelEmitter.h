//===- KernelEmitter.h - loop-nest kernels in scf/arith/math/memref -*- C++ -*-===//
//
// Every non-GEMM kernel is one of a few loop-nest shapes over flat buffers:
//
//   map     out[i] = f(in₀[i], in₁[i], ...) over an iteration space, each
//           access with its own offset and strides (0 = broadcast), so
//           elementwise ops, transposes, slices, pads and concats are maps;
//   reduce  out[kept] = ⊕ in[kept, reduced];
//   row     a 1-D row along one axis read in several passes (softmax,
//           log_softmax, l2_normalize, argmax, layer_norm).
//
// A kernel is `void name(void **buffers, int64_t begin, int64_t end)`: it
// computes rows [begin, end) of its outermost loop, so the runtime can split
// the rows across threads. Buffers arrive as raw pointers and become flat
// static memrefs inside.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_CODEGEN_KERNELEMITTER_H
#define KILN_CODEGEN_KERNELEMITTER_H

#include "mlir/Dialect/Func/IR/FuncOps.h"
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

/// How a loop nest reads or writes one argument: element offset and one
/// stride per loop dimension (0 where the value is broadcast).
struct Access {
  int arg;
  int64_t offset = 0;
  llvm::SmallVector<int64_t> strides;
};

/// Computes the element of a map from the loaded operands and the loop
/// coordinates (index values).
using MapBody = std::function<mlir::Value(mlir::OpBuilder &, mlir::Location,
                                          mlir::ValueRange loaded,
                                          mlir::ValueRange coords)>;

/// What a reduce kernel computes over the reduced elements.
enum class ReduceKind { Sum, Mean, Max, LogSumExp };

class KernelEmitter {
public:
  explicit KernelEmitter(mlir::MLIRContext &context);

  /// The kernels so far, as a module of func.func ops.
  mlir::ModuleOp module() { return *kernels; }

  /// Kernels that compute one kiln.fusion, by name: the CUDA codegen
  /// spreads such a region's row over a block (CudaKernels.cpp).
  std::map<std::string, mlir::Operation *> fusionKernels;

  /// For the GPU: each map kernel of several loop dims also gets a twin
  /// of the same name in elementRowKernels() whose rows are its elements
  /// (the flat index; `kiln.rows` says how many), so that a transpose of
  /// 256 long rows becomes millions of GPU threads rather than 256.
  void enableElementRows();
  mlir::ModuleOp elementRowKernels() { return elementRows ? *elementRows : nullptr; }

  /// A map over `dims` (dims[0] is the row dimension). Adjacent dimensions
  /// that every access walks contiguously are merged first. Returns the
  /// kernel name; `rows` gets the row count of the merged nest.
  std::string map(llvm::StringRef op, llvm::ArrayRef<KernelArg> args,
                  llvm::ArrayRef<int64_t> dims, llvm::ArrayRef<Access> inputs,
                  Access output, const MapBody &body, int64_t &rows);

  /// out[kept] = ⊕ in[kept, reduced]. `kept` and `reduced` are loop dims;
  /// `in` has strides over kept then reduced dims, `out` over kept dims.
  std::string reduce(llvm::StringRef op, llvm::ArrayRef<KernelArg> args,
                     llvm::ArrayRef<int64_t> kept, llvm::ArrayRef<int64_t> reduced,
                     const Access &in, const Access &out, ReduceKind kind,
                     int64_t &rows);

  /// One row along an axis: `outer` loop dims (with both accesses'
  /// strides), a row of `length` elements `axisStride` apart. `bodyFn`
  /// builds the passes over the row with the helpers below.
  struct RowContext {
    mlir::OpBuilder &b;
    mlir::Location loc;
    llvm::SmallVector<mlir::Value> memrefs;
    llvm::SmallVector<mlir::Value> base; // per access: row start index
    int64_t length, axisStride;
    /// Σ / max / ... over the row of f(k, x_k) for access `a`.
    mlir::Value fold(int a, double init,
                     const std::function<mlir::Value(mlir::Value acc, mlir::Value x,
                                                     mlir::Value k)> &step);
    /// For each k: store g(k, x_k) into access `out`, reading access `in`.
    void forEach(int in, int out,
                 const std::function<mlir::Value(mlir::Value x, mlir::Value k)> &g);
    /// Element k of the row of access `a` (k null: the row's first element).
    mlir::Value load(int a, mlir::Value k);
    void store(int a, mlir::Value k, mlir::Value v);
    mlir::Value f32(double v);
    llvm::SmallVector<int> args; // access -> kernel argument
  };
  std::string row(llvm::StringRef op, llvm::ArrayRef<KernelArg> args,
                  llvm::ArrayRef<int64_t> outer, llvm::ArrayRef<Access> accesses,
                  int64_t length, int64_t axisStride,
                  const std::function<void(RowContext &)> &bodyFn, int64_t &rows);

  /// A kernel of any body: a loop over rows [begin, end); `body` builds
  /// one row's work at `b` (the row index is `row`); allocations that
  /// should live for the whole call go through `entry` (before the loop).
  using RowBody = std::function<void(mlir::OpBuilder &b, mlir::OpBuilder &entry,
                                     mlir::ValueRange memrefs, mlir::Value row)>;
  std::string custom(llvm::StringRef op, llvm::ArrayRef<KernelArg> args, const RowBody &body);

  /// A kernel that gets its row range [begin, end) itself (several
  /// regions' rows laid end to end in one kernel).
  using RangeBody = std::function<void(mlir::OpBuilder &b, mlir::OpBuilder &entry,
                                       mlir::ValueRange memrefs, mlir::Value begin,
                                       mlir::Value end)>;
  std::string customRange(llvm::StringRef op, llvm::ArrayRef<KernelArg> args,
                          const RangeBody &body);

private:
  /// A new kernel function with its argument memrefs; the builder is left
  /// in its body, `begin` and `end` are index values.
  /// startKernel in `module` under `name`.
  mlir::func::FuncOp startKernelIn(mlir::ModuleOp module, const std::string &name,
                                   llvm::ArrayRef<KernelArg> args,
                                   llvm::SmallVectorImpl<mlir::Value> &memrefs,
                                   mlir::Value &begin, mlir::Value &end);
  mlir::func::FuncOp startKernel(llvm::StringRef op, llvm::ArrayRef<KernelArg> args,
                                 llvm::SmallVectorImpl<mlir::Value> &memrefs,
                                 mlir::Value &begin, mlir::Value &end);

  /// Returns the kernel's name, or an identical earlier kernel's (and
  /// drops this one).
  std::string finish(mlir::func::FuncOp fn);

  mlir::MLIRContext &context;
  mlir::OwningOpRef<mlir::ModuleOp> kernels, elementRows;
  std::map<std::string, std::string> bodies; // printed body -> kernel name
  mlir::OpBuilder b;
  int64_t count = 0;
};

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
/// Element `i` of the pointer array `buffers` as a flat memref<n x T>: how
/// every kernel (CPU or GPU) reaches its buffers.
mlir::Value bufferMemref(mlir::OpBuilder &b, mlir::Location loc, mlir::Value buffers, int i,
                         mlir::Type elem, int64_t n);

/// Row-major element strides of `shape`.
llvm::SmallVector<int64_t> rowMajorStrides(llvm::ArrayRef<int64_t> shape);

} // namespace kiln

#endif // KILN_CODEGEN_KERNELEMITTER_H
