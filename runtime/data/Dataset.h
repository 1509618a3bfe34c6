//===- Dataset.h - image classification datasets on disk ----------*- C++ -*-===//
//
// Fashion-MNIST (or any MNIST-layout IDX set): train and test images as
// uint8 [N, H, W] with int labels. The default location is Debian's
// dataset-fashion-mnist package.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_RUNTIME_DATA_DATASET_H
#define KILN_RUNTIME_DATA_DATASET_H

#include <cstdint>
#include <string>
#include <vector>

namespace kiln::data {

constexpr const char *kFashionMnistDir = "/usr/share/datasets/fashion-mnist";

struct Split {
  int64_t count = 0, height = 0, width = 0;
  std::vector<uint8_t> images; // count × height × width
  std::vector<int32_t> labels;
};

struct Dataset {
  Split train, test;
};

/// Reads {train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz] from `dir`;
/// false with `error` naming the missing file (and the Debian package for
/// the default directory).
bool loadIdxDataset(const std::string &dir, Dataset &out, std::string &error);

/// A deterministic synthetic set for tests: `count` images whose class is
/// drawn as a bright square at a class-dependent place.
Dataset syntheticDataset(int64_t trainCount, int64_t testCount, uint64_t seed);

} // namespace kiln::data

#endif // KILN_RUNTIME_DATA_DATASET_H
