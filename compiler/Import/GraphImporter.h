//===- GraphImporter.h - JSON graph to the kiln dialect ----------*- C++ -*-===//
//
// Reads a model graph (and the libraries it imports), checks it against the
// schemas, instantiates modules and networks, and emits one func.func
// @objective of kiln ops. Every op's location is
//   loc("<instance path>"("<file>":line:col))
// pointing at the JSON node it came from. The first error is reported as an
// MLIR diagnostic "file:line:col: error: /json/pointer: message" and the
// import returns null.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_IMPORT_GRAPHIMPORTER_H
#define KILN_IMPORT_GRAPHIMPORTER_H

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/OwningOpRef.h"

#include <nlohmann/json.hpp>

#include <optional>
#include <string>

namespace kiln {

struct ImportOptions {
  /// Overrides train.batch_size (the `batch` name in shape expressions).
  std::optional<int64_t> batchSize;
  /// The ranks that batch is split over: the step is compiled for
  /// batch / ranks images per rank (data parallelism).
  int64_t ranks = 1;
};

mlir::OwningOpRef<mlir::ModuleOp> importGraph(mlir::MLIRContext &context,
                                              const std::string &path,
                                              const ImportOptions &options = {});

/// Makes a model graph's file-relative paths (its imports, the networks'
/// init_from, init specs of kind "file") absolute against `dir`, the directory of the file it came
/// from, so that an edited copy can be written anywhere (the tests and
/// the differential checker write theirs to a temporary directory).
void anchorGraphPaths(nlohmann::ordered_json &graph, const std::string &dir);

} // namespace kiln

#endif // KILN_IMPORT_GRAPHIMPORTER_H
