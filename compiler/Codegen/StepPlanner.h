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

#include "mlir/IR/BuiltinOps.h"

#include <map>

namespace kiln {

/// A persistent buffer's initial contents (constants), by buffer id.
using ConstantData = std::map<int64_t, std::vector<uint8_t>>;

/// Plans every func.func of `module` (the train step, and the eval entry
/// when there is one) into `model`, emitting kernels into `emitter`.
llvm::LogicalResult planModel(mlir::ModuleOp module, KernelEmitter &emitter,
                              CompiledModel &model, ConstantData &constants);

/// The text dump of the buffer plan: which value lives where, arena size.
std::string describePlan(const CompiledModel &model);

} // namespace kiln

#endif // KILN_CODEGEN_STEPPLANNER_H
