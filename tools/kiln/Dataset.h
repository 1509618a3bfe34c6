//===- Dataset.h - the data a subcommand reads --------------------*- C++ -*-===//
#ifndef KILN_TOOLS_DATASET_H
#define KILN_TOOLS_DATASET_H

#include "CommandLine.h"
#include "runtime/artifact/Manifest.h"
#include "runtime/data/Dataset.h"

namespace kiln {

/// --data, --eval-data and --loader-threads.
struct DataOptions {
  std::optional<std::string> data, evalData;
  std::optional<int64_t> loaderThreads;
  /// Declares the three options on `cl`.
  void declare(CommandLine &cl);
};

/// A graph's data (its data.source, else Fashion-MNIST from
/// Debian's package), with --data PATH and --eval-data PATH overriding
/// where it is ("synthetic:N": N generated training images, for tests);
/// warnings about skipped files go to stderr. False with `error`.
bool loadDataset(const nlohmann::ordered_json &graphData, const DataOptions &options,
                 data::Dataset &dataset, std::string &error);

/// --loader-threads, else the cores this rank's compute threads leave
/// (at least 1).
int loaderThreads(const DataOptions &options, int computeThreads, int ranksOnThisMachine);

} // namespace kiln

#endif // KILN_TOOLS_DATASET_H
