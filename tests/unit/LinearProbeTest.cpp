//===- LinearProbeTest.cpp - the probe on features with a known answer -----===//
#include "runtime/train/LinearProbe.h"

#include "runtime/data/Random.h"

#include <gtest/gtest.h>

using namespace kiln;

namespace {

/// n points in `dim` dims: class c at mean 3·e_c plus N(0, 1) noise; with
/// `shuffled` the labels are drawn independently of the points.
void blobs(int64_t n, int64_t dim, int classes, uint64_t seed, bool shuffled,
           std::vector<float> &x, std::vector<int32_t> &y) {
  data::Random rng(seed, 1, 2);
  x.resize(n * dim);
  y.resize(n);
  for (int64_t i = 0; i < n; ++i) {
    int c = static_cast<int>(rng.next() % classes);
    for (int64_t d = 0; d < dim; ++d)
      x[i * dim + d] = static_cast<float>((d == c ? 3.0 : 0.0) + rng.normal());
    y[i] = shuffled ? static_cast<int32_t>(rng.next() % classes) : c;
  }
}

/// Test accuracy of the probe trained on 4,000 blobs and tested on 1,000
/// (16 dims, 10 classes), drawn with the given seeds.
double probeOnBlobs(uint64_t trainSeed, uint64_t testSeed, bool shuffled) {
  std::vector<float> train, test;
  std::vector<int32_t> trainY, testY;
  blobs(4000, 16, 10, trainSeed, shuffled, train, trainY);
  blobs(1000, 16, 10, testSeed, shuffled, test, testY);
  return linearProbe(train, trainY, test, testY, 16, 10, {10, 128, 1e-2, 0});
}

} // namespace

/// Blobs 3σ apart along their own axis: the Bayes error is about 2%, and
/// a linear classifier reaches it.
TEST(LinearProbe, SeparatesGaussianBlobs) { EXPECT_GT(probeOnBlobs(1, 2, false), 0.9); }

/// Labels independent of the features: nothing to learn, chance on test.
TEST(LinearProbe, RandomLabelsStayAtChance) { EXPECT_LT(probeOnBlobs(3, 4, true), 0.16); }
