//===- LinearProbe.h - a linear classifier on frozen features -----*- C++ -*-===//
//
// DINO's second evaluation, at our scale: a softmax-regression layer
// trained on the training set's frozen features (standardised with the
// training set's mean and std per dimension) by minibatch Adam, then
// scored on the test set. Deterministic for a seed.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_RUNTIME_TRAIN_LINEARPROBE_H
#define KILN_RUNTIME_TRAIN_LINEARPROBE_H

#include <cstdint>
#include <vector>

namespace kiln {

struct LinearProbeOptions {
  int epochs = 20, batch = 256;
  double lr = 1e-2;
  uint64_t seed = 0;
};

/// Test accuracy in [0, 1] of a linear classifier over `classes` trained on
/// (`train`, `trainLabels`); rows are `dim` features.
double linearProbe(const std::vector<float> &train, const std::vector<int32_t> &trainLabels,
                   const std::vector<float> &test, const std::vector<int32_t> &testLabels,
                   int64_t dim, int classes, const LinearProbeOptions &options = {});

} // namespace kiln

#endif // KILN_RUNTIME_TRAIN_LINEARPROBE_H
