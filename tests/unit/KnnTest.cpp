//===- KnnTest.cpp - weighted k-NN against a hand-worked case -------------===//
#include "runtime/train/Knn.h"

#include <gtest/gtest.h>

#include <cmath>

using namespace kiln;

/// Bank on the unit circle: class 0 near angle 0, class 1 near 90°. With
/// k = 3 a test point at 30° sees two class-0 and one class-1 neighbour;
/// the weights exp(cos/T) decide, and at T = 0.07 the closer pair wins.
TEST(Knn, WeightedVoteOfTheNearest) {
  auto at = [](double deg) {
    double r = deg * 3.141592653589793 / 180;
    return std::vector<float>{float(std::cos(r)), float(std::sin(r))};
  };
  std::vector<float> bank, test;
  for (double d : {0.0, 10.0, 80.0, 90.0, 100.0})
    for (float x : at(d))
      bank.push_back(x);
  std::vector<int32_t> bankLabels{0, 0, 1, 1, 1};
  for (double d : {30.0, 70.0})
    for (float x : at(d))
      test.push_back(x);
  KnnResult r;
  std::string error;
  ASSERT_TRUE(knnClassify(bank, bankLabels, test, {0, 1}, 2, 3, 0.07, 2, r, error)) << error;
  EXPECT_DOUBLE_EQ(r.top1, 1.0);
  // Wrong labels for both: top-1 0, top-5 (all classes here) 1.
  ASSERT_TRUE(knnClassify(bank, bankLabels, test, {1, 0}, 2, 3, 0.07, 2, r, error)) << error;
  EXPECT_DOUBLE_EQ(r.top1, 0.0);
  EXPECT_DOUBLE_EQ(r.top5, 1.0);
}

TEST(Knn, RowsAreNormalised) {
  std::vector<float> rows{3, 4, 0, 0};
  l2NormalizeRows(rows, 2);
  EXPECT_FLOAT_EQ(rows[0], 0.6f);
  EXPECT_FLOAT_EQ(rows[1], 0.8f);
  EXPECT_FLOAT_EQ(rows[2], 0.0f); // a zero row stays zero
}

/// A bank smaller than k is an error (it used to read past the bank).
TEST(Knn, MoreNeighboursThanTheBankIsAnError) {
  std::vector<float> bank{1, 0, 0, 1}, test{1, 0};
  KnnResult r;
  std::string error;
  EXPECT_FALSE(knnClassify(bank, {0, 1}, test, {0}, 2, 3, 0.07, 2, r, error));
  EXPECT_NE(error.find("k = 3 needs at least k training images; the bank has 2"), std::string::npos)
      << error;
}
