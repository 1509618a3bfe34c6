//===- Dataset.h - the dataset a subcommand's --data names -------*- C++ -*-===//
#ifndef KILN_TOOLS_DATASET_H
#define KILN_TOOLS_DATASET_H

#include "runtime/data/Dataset.h"

#include <optional>
#include <string>

namespace kiln {

/// Fashion-MNIST from Debian's package, an IDX directory, or "synthetic:N"
/// (N generated training images, for tests); false with `error`.
bool loadDataset(const std::optional<std::string> &data, data::Dataset &dataset,
                 std::string &error);

} // namespace kiln

#endif // KILN_TOOLS_DATASET_H
