//===- Dataset.cpp - image classification datasets on disk ----------------===//
#include "runtime/data/Dataset.h"

#include "runtime/data/Idx.h"
#include "runtime/data/Random.h"

#include <filesystem>

namespace kiln::data {
namespace {

bool loadSplit(const std::string &dir, const std::string &prefix, Split &split,
               std::string &error) {
  auto find = [&](const std::string &stem) -> std::string {
    for (const char *suffix : {".gz", ""}) {
      std::string path = dir + "/" + stem + suffix;
      if (std::filesystem::exists(path))
        return path;
    }
    return "";
  };
  std::string imagesPath = find(prefix + "-images-idx3-ubyte");
  std::string labelsPath = find(prefix + "-labels-idx1-ubyte");
  if (imagesPath.empty() || labelsPath.empty()) {
    error = "no " + prefix + " images/labels (IDX files) in " + dir +
            (dir == kFashionMnistDir ? " (apt-get install dataset-fashion-mnist, or pass --data DIR)"
                                     : "");
    return false;
  }
  IdxArray images, labels;
  if (!readIdx(imagesPath, images, error) || !readIdx(labelsPath, labels, error))
    return false;
  if (images.dims.size() != 3 || labels.dims.size() != 1 || images.dims[0] != labels.dims[0]) {
    error = imagesPath + ": expected [N, H, W] images with N labels in " + labelsPath;
    return false;
  }
  split.count = images.dims[0];
  split.height = images.dims[1];
  split.width = images.dims[2];
  split.images = std::move(images.bytes);
  split.labels.assign(labels.bytes.begin(), labels.bytes.end());
  return true;
}

} // namespace

bool loadIdxDataset(const std::string &dir, Dataset &out, std::string &error) {
  return loadSplit(dir, "train", out.train, error) && loadSplit(dir, "t10k", out.test, error);
}

Dataset syntheticDataset(int64_t trainCount, int64_t testCount, uint64_t seed) {
  Dataset d;
  for (auto [split, count, salt] : {std::tuple{&d.train, trainCount, 1ull},
                                    std::tuple{&d.test, testCount, 2ull}}) {
    split->count = count;
    split->height = split->width = 28;
    split->images.assign(count * 28 * 28, 0);
    split->labels.resize(count);
    for (int64_t i = 0; i < count; ++i) {
      Random r(seed, salt, i);
      int label = static_cast<int>(r.next() % 10);
      split->labels[i] = label;
      // A 8x8 square whose position encodes the class, on light noise.
      int y0 = 2 + (label / 5) * 12 + static_cast<int>(r.next() % 3);
      int x0 = 2 + (label % 5) * 5 + static_cast<int>(r.next() % 2);
      uint8_t *img = &split->images[i * 784];
      for (int p = 0; p < 784; ++p)
        img[p] = static_cast<uint8_t>(r.next() % 40);
      for (int y = y0; y < y0 + 8 && y < 28; ++y)
        for (int x = x0; x < x0 + 8 && x < 28; ++x)
          img[y * 28 + x] = 220;
    }
  }
  return d;
}

} // namespace kiln::data
