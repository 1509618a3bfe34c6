//===- Dataset.cpp - the data a subcommand reads ---------------------------===//
#include "Dataset.h"

#include <algorithm>
#include <cstdio>
#include <thread>

namespace kiln {

const char *const kDataUsage =
    "  --data PATH       the training data (default: the graph's data.source, else\n"
    "                    /usr/share/datasets/fashion-mnist): a folder of IDX files or\n"
    "                    CIFAR batches, a folder of class folders of images (or one\n"
    "                    with train/ and val/ inside), tar shards (a .tar, a brace\n"
    "                    pattern, or a folder of kiln data convert's); synthetic:N\n"
    "                    for N generated images\n"
    "  --eval-data PATH  the evaluation data, when not beside the training data\n"
    "  --loader-threads N  threads reading and augmenting images per rank\n"
    "                    (default: the cores the compute threads leave, at least 1)\n";

bool loadDataset(const nlohmann::ordered_json &graphData, const Args &args,
                 data::Dataset &dataset, std::string &error) {
  data::DataSpec spec;
  if (!data::dataSpecFromGraph(graphData, spec, error))
    return false;
  if (auto path = args.value("data")) {
    spec.kind.clear(); // told by content
    spec.path = *path;
    spec.evalPath.clear();
  }
  if (auto path = args.value("eval-data"))
    spec.evalPath = *path;
  std::vector<std::string> warnings;
  bool ok = data::openDataset(spec, dataset, warnings, error);
  for (const std::string &w : warnings)
    std::fprintf(stderr, "kiln: warning: %s\n", w.c_str());
  return ok;
}

int loaderThreads(Args &args, int computeThreads, int ranksOnThisMachine) {
  if (auto n = args.integer("loader-threads", 1))
    return static_cast<int>(*n);
  int cores = static_cast<int>(std::thread::hardware_concurrency()) / std::max(1, ranksOnThisMachine);
  return std::max(1, cores - computeThreads);
}

} // namespace kiln
