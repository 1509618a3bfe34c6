//===- Dataset.h - the data a subcommand reads --------------------*- C++ -*-===//
#ifndef KILN_TOOLS_DATASET_H
#define KILN_TOOLS_DATASET_H

#include "Args.h"
#include "runtime/artifact/Manifest.h"
#include "runtime/data/Dataset.h"

namespace kiln {

/// Help lines of --data, --eval-data and --loader-threads.
extern const char *const kDataUsage;

/// A graph's data (its data.source, else Fashion-MNIST from
/// Debian's package), with --data PATH and --eval-data PATH overriding
/// where it is ("synthetic:N": N generated training images, for tests);
/// warnings about skipped files go to stderr. False with `error`.
bool loadDataset(const nlohmann::ordered_json &graphData, const Args &args,
                 data::Dataset &dataset, std::string &error);

/// --loader-threads, else the cores this rank's compute threads leave
/// (at least 1).
int loaderThreads(Args &args, int computeThreads, int ranksOnThisMachine);

} // namespace kiln

#endif // KILN_TOOLS_DATASET_H
