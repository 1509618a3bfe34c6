//===- Dataset.cpp - the dataset a subcommand's --data names ---------------===//
#include "Dataset.h"

#include <algorithm>
#include <cstdlib>

namespace kiln {

bool loadDataset(const std::optional<std::string> &data, data::Dataset &dataset,
                 std::string &error) {
  std::string dir = data.value_or(data::kFashionMnistDir);
  if (dir.rfind("synthetic:", 0) == 0) {
    int64_t count = std::atoll(dir.c_str() + 10);
    dataset = data::syntheticDataset(count, std::max<int64_t>(count / 6, 1), 7);
    return true;
  }
  return data::loadIdxDataset(dir, dataset, error);
}

} // namespace kiln
