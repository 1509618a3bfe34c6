//===- Dataset.cpp - the data a subcommand reads ---------------------------===//
#include "Dataset.h"

#include <algorithm>
#include <cstdio>
#include <thread>

namespace kiln {

void DataOptions::declare(CommandLine &cl) {
  cl.text("--data", data,
          "the training data (default: the graph's data.source, else "
          "/usr/share/datasets/fashion-mnist): a folder of IDX files or CIFAR batches, a "
          "folder of class folders of images (or one with train/ and val/ inside), tar shards "
          "(a .tar, a brace pattern, or a folder of kiln data convert's); synthetic:N for N "
          "generated images")
      ->type_name("PATH");
  cl.text("--eval-data", evalData, "the evaluation data, when not beside the training data")
      ->type_name("PATH");
  cl.integer("--loader-threads", loaderThreads, 1, 1024,
             "threads reading and augmenting images per rank (default: the cores the compute "
             "threads leave, at least 1)");
}

bool loadDataset(const nlohmann::ordered_json &graphData, const DataOptions &options,
                 data::Dataset &dataset, std::string &error) {
  data::DataSpec spec;
  if (!data::dataSpecFromGraph(graphData, spec, error))
    return false;
  if (options.data) {
    spec.kind.clear(); // told by content
    spec.path = *options.data;
    spec.evalPath.clear();
  }
  if (options.evalData)
    spec.evalPath = *options.evalData;
  std::vector<std::string> warnings;
  bool ok = data::openDataset(spec, dataset, warnings, error);
  for (const std::string &w : warnings)
    std::fprintf(stderr, "kiln: warning: %s\n", w.c_str());
  return ok;
}

int loaderThreads(const DataOptions &options, int computeThreads, int ranksOnThisMachine) {
  if (options.loaderThreads)
    return static_cast<int>(*options.loaderThreads);
  int cores = static_cast<int>(std::thread::hardware_concurrency()) / std::max(1, ranksOnThisMachine);
  return std::max(1, cores - computeThreads);
}

} // namespace kiln
