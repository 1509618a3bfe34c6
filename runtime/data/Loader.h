//===- Loader.h - shuffled, augmented batches with prefetch -------*- C++ -*-===//
//
// Per epoch a permutation of the training set from (seed, epoch); step i
// takes the next batch·ranks indices (the last partial batch is dropped)
// and rank r the r-th `batch` of them, so the global batch of a step is the
// same at every world size. Augmentations are keyed by image, not rank.
// The next batch is built on a background thread while the step runs.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_RUNTIME_DATA_LOADER_H
#define KILN_RUNTIME_DATA_LOADER_H

#include "runtime/data/Dataset.h"
#include "runtime/data/Views.h"

#include <future>
#include <map>

namespace kiln::data {

/// One batch: per input name its floats (views) or labels.
struct Batch {
  std::map<std::string, std::vector<float>> views;
  std::vector<int32_t> labels;
};

class Loader {
public:
  /// `views`: input name -> view spec; a "label" input gets the labels.
  Loader(const Split &split, std::map<std::string, ViewSpec> views, int64_t batch,
         uint64_t seed, int rank = 0, int ranks = 1);
  ~Loader();

  int64_t stepsPerEpoch() const { return split.count / (batch * ranks); }
  /// Batch `step` of `epoch` (prefetches the one after it).
  Batch get(int64_t epoch, int64_t step);

private:
  Batch build(int64_t epoch, int64_t step);
  const std::vector<int64_t> &order(int64_t epoch);

  const Split &split;
  std::map<std::string, ViewSpec> views;
  int64_t batch;
  uint64_t seed;
  int rank, ranks;
  std::map<int64_t, std::vector<int64_t>> orders; // epoch -> permutation
  std::mutex ordersMutex;
  std::future<Batch> pending;
  int64_t pendingEpoch = -1, pendingStep = -1;
};

} // namespace kiln::data

#endif // KILN_RUNTIME_DATA_LOADER_H
