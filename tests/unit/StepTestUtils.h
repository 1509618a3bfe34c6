//===- StepTestUtils.h - build, transform and evaluate test steps -*- C++ -*-===//
//
// Shared by the gradient, loss and optimizer tests: a step built from C++
// or imported from JSON, passes run on it, and the reference evaluator as
// the oracle (finite differences of the loss for gradients).
//
//===----------------------------------------------------------------------===//
#ifndef KILN_TESTS_STEPTESTUTILS_H
#define KILN_TESTS_STEPTESTUTILS_H

#include "Kiln/IR/KilnBuilder.h"
#include "compiler/Codegen/KernelEmitter.h"
#include "compiler/Codegen/StepPlanner.h"
#include "compiler/Pipeline/Phases.h"
#include "compiler/Reference/ReferenceEvaluator.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/OwningOpRef.h"

#include <functional>
#include <memory>
#include <random>
#include <string>

namespace kiln::test {

/// A context with the kiln and func dialects and kiln's passes registered.
mlir::MLIRContext &context();

/// A step with one trained parameter "p<i>" per shape; `body` computes a
/// tensor from them, and the loss is Σ body(...)·r with the input "r" of the
/// same shape (so every element of the result matters).
mlir::OwningOpRef<mlir::ModuleOp> stepOf(
    llvm::ArrayRef<std::vector<int64_t>> paramShapes,
    const std::function<mlir::Value(KilnBuilder &, llvm::ArrayRef<mlir::Value>)> &body);

/// Imports a JSON graph given as text (written to a temporary file whose
/// imports resolve against models/lib) and runs the phases up to `phase`.
mlir::OwningOpRef<mlir::ModuleOp> importText(const std::string &json, const std::string &phase,
                                             const PipelineOptions &options = {});

/// The shipped graph at `path` (relative to the source tree) as text, its
/// imports rewritten to resolve as importText resolves them (models/lib).
std::string shippedGraphText(const std::string &path);

/// A shipped graph's step as kiln compile has it before the kernel library
/// and the PTX: lowered, its thunks selected, its buffers planned and its
/// kernels emitted.
struct PlannedKernels {
  mlir::OwningOpRef<mlir::ModuleOp> module;
  std::unique_ptr<KernelEmitter> emitter;
  StepPlan plan;
};

/// The shipped graph at `path` (as shippedGraphText) planned so; null,
/// failing the current test, when a stage fails.
std::unique_ptr<PlannedKernels> plannedKernels(const std::string &path);

/// Runs a textual pass pipeline on `module` ("func.func(kiln-autodiff),cse").
bool runPipeline(mlir::ModuleOp module, const std::string &pipeline);

/// The step function of `module`.
mlir::func::FuncOp stepOf(mlir::ModuleOp module);

/// Binds every param, state and input of `module` to uniform values in
/// [low, high) (integer inputs: [0, classes)), every schedule to `schedule`.
StepBindings randomBindings(mlir::ModuleOp module, std::mt19937 &rng,
                            double low = -1.0, double high = 1.0,
                            int64_t classes = 2, double schedule = 1.0);

/// The largest relative error ‖ad - fd‖/max(‖ad‖, ‖fd‖) over the trained
/// parameters, between kiln-autodiff (after kiln-lower-batch-norm,
/// simplified) and central differences of the forward step's loss, and
/// of the loss itself between the two (a lowering must keep the value).
/// Fails the current test if a parameter's gradient is missing.
double gradientError(mlir::ModuleOp forward, const StepBindings &bindings,
                     double h = 1e-6);

/// Evaluates `module`'s step, failing the current test on error.
StepResults evaluate(mlir::ModuleOp module, const StepBindings &bindings);

} // namespace kiln::test

#endif // KILN_TESTS_STEPTESTUTILS_H
