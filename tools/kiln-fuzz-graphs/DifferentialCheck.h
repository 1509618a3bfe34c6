//===- DifferentialCheck.h - compiled steps against the f64 oracle -*- C++ -*-===//
//
// One training step of a JSON graph, three ways: the double-precision
// reference evaluator on the unfused train-step IR (the oracle), and the
// compiled artifact without and with fusion, each on 1 and 2 threads.
// Parameters and state start from the artifact's own initial values, the
// inputs are random (labels in [0, classes) of the one_hot that reads
// them), random thunks' draws are handed to the oracle. Compared: the
// loss, every metric, every updated parameter and state tensor and, when
// the optimizer is plain SGD, every gradient ((p - p')/lr), each within
// an f32 tolerance scaled by the square root of the graph's longest
// reduction. With `ptx`, the fused artifact's PTX is also generated and,
// where ptxas is installed, assembled.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_FUZZ_GRAPHS_DIFFERENTIALCHECK_H
#define KILN_FUZZ_GRAPHS_DIFFERENTIALCHECK_H

#include <nlohmann/json.hpp>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace mlir {
class MLIRContext;
} // namespace mlir

namespace kiln::fuzz {

struct CheckOptions {
  std::optional<int64_t> batchSize; // overrides train.batch_size
  std::vector<int> threads = {1, 2};
  bool unfused = true;      // also run the artifact compiled without fusion
  bool plainSgd = false;    // replace the optimizer by SGD, lr 1: updates are gradients
  /// Values set in the graph before the check, by JSON pointer
  /// ("/networks/net/args/heads" = 1; null removes the key): a shipped
  /// model at its edges.
  std::vector<std::pair<std::string, nlohmann::json>> edits;
  bool ptx = false;         // also emit (and assemble) PTX
  std::string ptxas;        // ptxas to assemble it with ("" or missing: emit only)
  double tolerance = 1e-5;  // relative, times sqrt(longest reduction)
  /// kiln-assign-precision's precision ("" or f32: none). The oracle then
  /// evaluates the step after that phase, rounding each low-precision
  /// result as the kernels do; give a tolerance that covers values that
  /// round differently near ties (bf16: 2^-8 relative a step).
  std::string precision;
  uint64_t seed = 0;        // input values
};

struct CheckResult {
  enum Status {
    Pass,
    Rejected,     // the importer or verifier refused the graph
    CompileError, // a later phase, codegen or ptxas failed on a valid graph
    Mismatch,     // a compiled step disagrees with the oracle
    Crash,        // the check died or hung (kiln-fuzz-graphs runs it in a child)
  } status = Pass;
  std::string message;
  std::map<std::string, int> ops; // the train step's ops (unfused), by name
  int64_t longestReduction = 1;
  double worst = 0; // the largest error over its tolerance
};

const char *statusName(CheckResult::Status s);

/// The context the check needs: kiln's dialects, one thread (it may be
/// forked).
mlir::MLIRContext &checkContext();

/// Checks the graph at `path` (see above).
CheckResult checkGraph(const std::string &path, const CheckOptions &options);

} // namespace kiln::fuzz

#endif // KILN_FUZZ_GRAPHS_DIFFERENTIALCHECK_H
