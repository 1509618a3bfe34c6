//===- ReferenceEvaluator.h - double-precision oracle for kiln IR -*- C++ -*-===//
//
// Interprets tensor-level kiln IR with plain loops in double precision. It
// is the test oracle that gradients (finite differences) and, later,
// generated kernels are checked against; it is not an execution backend
// and is written for obviousness, not speed.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_REFERENCE_REFERENCEEVALUATOR_H
#define KILN_REFERENCE_REFERENCEEVALUATOR_H

#include "mlir/Dialect/Func/IR/FuncOps.h"

#include <functional>
#include <map>
#include <string>
#include <vector>

namespace kiln {

/// A dense row-major tensor of doubles (i32 and i1 values are stored as
/// their numeric value).
struct RefTensor {
  std::vector<int64_t> shape;
  std::vector<double> data;

  RefTensor() = default;
  RefTensor(std::vector<int64_t> shape, double fill = 0.0);
  RefTensor(std::vector<int64_t> shape, std::vector<double> data);
  int64_t size() const { return static_cast<int64_t>(data.size()); }
  /// The value of a 0-d (or one-element) tensor.
  double scalar() const { return data.at(0); }
};

/// Everything a step reads, by name.
struct StepBindings {
  std::map<std::string, RefTensor> params, state, inputs;
  std::map<std::string, double> schedules;
  /// U[0,1) samples for kiln.random_uniform with `stream` and `shape`.
  std::function<RefTensor(int64_t stream, const std::vector<int64_t> &shape)> random;
};

/// Everything a step writes.
struct StepResults {
  double loss = 0.0;
  std::map<std::string, double> metrics;
  std::map<std::string, RefTensor> gradients; // kiln.gradient
  std::map<std::string, RefTensor> params;    // kiln.update_param
  std::map<std::string, RefTensor> state;     // kiln.update_state
  std::map<std::string, RefTensor> outputs;   // kiln.output
};

/// Runs `step` once. Fails (with an error on the op) on an op it does not
/// know or a source with no binding.
llvm::FailureOr<StepResults> evaluateStep(mlir::func::FuncOp step,
                                          const StepBindings &bindings);

/// One op on given operand values: the results, or failure with an error
/// on the op. Sources and sinks are handled by evaluateStep.
llvm::LogicalResult evaluateOp(mlir::Operation *op,
                               llvm::ArrayRef<const RefTensor *> operands,
                               std::vector<RefTensor> &results);

} // namespace kiln

#endif // KILN_REFERENCE_REFERENCEEVALUATOR_H
