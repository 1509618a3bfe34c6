//===- StepPlanner.h - from the step's IR to buffers and thunks --*- C++ -*-===//
//
// The back half of the compiler before LLVM: every value gets a buffer
// (sources in persistent slots, reshapes as views of their operand,
// temporaries packed into one arena by liveness), every op its thunk (a
// kernel per kiln.fusion, GEMM library calls for matmul, all-reduce starts
// and waits placed so that communication overlaps compute), and parameter
// and state updates are written in place where nothing reads the old value
// afterwards, else copied at the end of the step. The work is spread over
// StepPlanner.cpp, CollectiveSchedule.cpp and BufferPlan.cpp (Planner.h).
//
//===----------------------------------------------------------------------===//
#ifndef KILN_CODEGEN_STEPPLANNER_H
#define KILN_CODEGEN_STEPPLANNER_H

#include "compiler/Codegen/KernelEmitter.h"
#include "runtime/artifact/Program.h"

#include "Kiln/IR/KilnOps.h"

#include "mlir/IR/BuiltinOps.h"

#include <map>

namespace kiln {

/// A persistent buffer's initial contents (constants), by buffer id.
using ConstantData = std::map<int64_t, std::vector<uint8_t>>;

/// What the back half's phases hand each other: `thunks` fills it,
/// `buffer-plan` places its buffers, `kernels` emits its kernels.
struct StepPlan {
  CompiledModel model;
  ConstantData constants;
  /// Per program: its parameter and state updates (slot, value buffer) and
  /// its first temporary buffer, for the buffer plan.
  std::vector<std::vector<std::pair<int64_t, int64_t>>> updates;
  std::vector<size_t> firstBuffer;
  /// Until `kernels` runs, a kernel thunk's `kernel` indexes this: the
  /// regions it computes (several: one multi-tensor kernel) and where each
  /// region's buffers start among the thunk's.
  struct PendingKernel {
    llvm::SmallVector<FusionOp> regions;
    llvm::SmallVector<size_t> argOffsets;
  };
  std::vector<PendingKernel> pending;
};

/// Phase `thunks`: every value of every func.func (the train step, and the
/// eval entry when there is one) a buffer, every op a thunk, the
/// all-reduces started where their bucket is ready and waited for where
/// first read.
llvm::LogicalResult selectThunks(mlir::ModuleOp module, StepPlan &plan);

/// Phase `buffer-plan`: updates written in place where nothing reads the
/// old value afterwards (else copied at the end), sinks that read an
/// updated tensor given a copy, temporaries packed into the arena.
void planBuffers(StepPlan &plan);

/// Phase `kernels` (its first half; KernelLibrary and CudaKernels lower
/// them): each kernel thunk's kernel emitted into `emitter`, identical
/// ones shared.
llvm::LogicalResult emitKernels(StepPlan &plan, KernelEmitter &emitter);

/// Text dumps: the thunks of each program, and the buffer plan.
std::string describeThunks(const CompiledModel &model);
std::string describePlan(const CompiledModel &model);

} // namespace kiln

#endif // KILN_CODEGEN_STEPPLANNER_H
