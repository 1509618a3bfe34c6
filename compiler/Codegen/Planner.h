//===- Planner.h - the step planner's shared state -------------*- C++ -*-===//
//
// Internal to compiler/Codegen. The planner is one object whose work is
// spread over three files along its seams: StepPlanner.cpp walks the IR
// and selects thunks (GEMMs, region kernels, random draws),
// CollectiveSchedule.cpp places the collectives and orders the update
// kernels by bucket, BufferPlan.cpp makes buffers, writes updates in place
// and packs the arena.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_CODEGEN_PLANNER_H
#define KILN_CODEGEN_PLANNER_H

#include "compiler/Codegen/StepPlanner.h"

#include "Kiln/IR/KilnLocations.h"
#include "Kiln/IR/KilnOps.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "llvm/ADT/DenseMap.h"

#include <map>

namespace kiln {

constexpr int64_t kAlign = 64;

inline int64_t alignUp(int64_t v) { return (v + kAlign - 1) / kAlign * kAlign; }

/// A value's shape (its buffer may be a reshape's operand's, of another).
inline std::vector<int64_t> dimsOf(mlir::Value v) {
  auto s = mlir::cast<mlir::RankedTensorType>(v.getType()).getShape();
  return std::vector<int64_t>(s.begin(), s.end());
}

/// An op's name for thunk listings: its node's path, else its op name.
inline std::string thunkLabel(mlir::Operation *op) {
  if (mlir::NameLoc name = nodeName(op->getLoc()))
    return name.getName().str();
  return op->getName().getStringRef().str();
}

/// A region's buffers (its inputs, then its results: the kernel's
/// arguments) before its kernel is emitted: one region alone, or several as
/// one multi-tensor kernel.
struct FusionPlan {
  FusionOp op;
  llvm::SmallVector<int64_t> inputs, outputs, sameIndex;
  int64_t flops = 0;
};


class Planner {
public:
  explicit Planner(StepPlan &plan)
      : plan(plan), model(plan.model), constants(plan.constants) {}

  /// The thunks of `fn`, as program `entry`.
  mlir::LogicalResult selectThunks(mlir::func::FuncOp fn, const std::string &entry);

  // The files of the planner share its state.
  // Buffers (BufferPlan.cpp).
  int64_t newBuffer(const std::string &name, const std::string &kind, mlir::Type type,
                    Region region);
  /// The persistent buffer named `name` (shared by all programs).
  int64_t persistent(const std::string &name, const std::string &kind, mlir::Type type);
  /// A thunk copying buffer `from` into `to` (of the same size).
  Thunk copyThunk(int64_t from, int64_t to, const std::string &label) const;
  void placeArena(Program &program, size_t firstBuffer);
  void writeUpdatesInPlace(Program &program,
                           std::vector<std::pair<int64_t, int64_t>> &updates);
  void copyUpdatedSinks(Program &program, llvm::ArrayRef<std::pair<int64_t, int64_t>> updates);

  // Thunks (StepPlanner.cpp).
  Thunk gemm(MatmulOp op, int64_t a, int64_t b, int64_t c);
  Thunk convolution(mlir::Operation *op, llvm::ArrayRef<int64_t> operands, int64_t out);
  /// A lone concat or slice of whole blocks as byte copies (true), else
  /// false and nothing changes.
  bool blockCopies(FusionOp f, llvm::ArrayRef<int64_t> inputs,
                   llvm::DenseMap<mlir::Value, int64_t> &bufferOf, Program &program);
  FusionPlan prepareFusion(FusionOp f, llvm::ArrayRef<int64_t> inputs,
                           llvm::DenseMap<mlir::Value, int64_t> &bufferOf);
  /// The kernel thunk of one region, or of several as one multi-tensor
  /// kernel (emitted later: phase `kernels`).
  void kernelThunk(llvm::ArrayRef<FusionPlan> plans, Program &program);

  // The collective schedule (CollectiveSchedule.cpp).
  struct Collective {
    Thunk start, wait;
  };
  Collective collective(mlir::Operation *op, llvm::ArrayRef<int64_t> operands,
                        llvm::DenseMap<mlir::Value, int64_t> &bufferOf);
  void startCollective(Collective c, Program &program);
  void placeCollectiveWaits(Program &program);
  void sinkShardSlices(Program &program);
  void updateKernelThunks(llvm::MutableArrayRef<FusionPlan> deferred,
                          std::vector<std::pair<AllGatherOp, Collective>> &gathers,
                          Program &program);

  StepPlan &plan;
  CompiledModel &model;
  ConstantData &constants;
  std::map<std::string, int64_t> persistentByName;
  // Per started bucket: its wait, and the index of its start thunk.
  std::vector<std::pair<Thunk, size_t>> pendingWaits;
};


} // namespace kiln

#endif // KILN_CODEGEN_PLANNER_H
