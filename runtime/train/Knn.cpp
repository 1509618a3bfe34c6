//===- Knn.cpp - weighted k-nearest-neighbour evaluation ------------------===//
#include "runtime/train/Knn.h"

#include "runtime/exec/Blas.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace kiln {

void l2NormalizeRows(std::vector<float> &rows, int64_t dim) {
  for (size_t r = 0; r < rows.size() / dim; ++r) {
    float *x = &rows[r * dim];
    double ss = 0;
    for (int64_t i = 0; i < dim; ++i)
      ss += double(x[i]) * x[i];
    float inv = static_cast<float>(1.0 / std::max(std::sqrt(ss), 1e-12));
    for (int64_t i = 0; i < dim; ++i)
      x[i] *= inv;
  }
}

bool knnClassify(const std::vector<float> &train, const std::vector<int32_t> &trainLabels,
                 const std::vector<float> &test, const std::vector<int32_t> &testLabels,
                 int64_t dim, int k, double temperature, int classes, KnnResult &result,
                 std::string &error) {
  const Blas *blas = Blas::get(error);
  if (!blas)
    return false;
  int64_t nTrain = trainLabels.size(), nTest = testLabels.size(), block = 100;
  if (k < 1 || k > nTrain) {
    error = "k-NN with k = " + std::to_string(k) + " needs at least k training images; the bank has " +
            std::to_string(nTrain) + " (set train.eval.k)";
    return false;
  }
  std::vector<float> sim(block * nTrain);
  int64_t top1 = 0, top5 = 0;
  std::vector<int64_t> index(nTrain);
  for (int64_t start = 0; start < nTest; start += block) {
    int64_t rows = std::min(block, nTest - start);
    // sim[r, j] = <test_r, train_j>: one GEMM per block of test rows.
    blas->sgemm(false, true, rows, nTrain, dim, &test[start * dim], dim, train.data(), dim,
                sim.data(), nTrain);
    for (int64_t r = 0; r < rows; ++r) {
      const float *s = &sim[r * nTrain];
      std::iota(index.begin(), index.end(), 0);
      auto closer = [&](int64_t a, int64_t b) { return s[a] > s[b]; };
      std::nth_element(index.begin(), index.begin() + k, index.end(), closer);
      std::sort(index.begin(), index.begin() + k, closer);
      std::vector<double> votes(classes, 0.0);
      for (int i = 0; i < k; ++i)
        votes[trainLabels[index[i]]] += std::exp(s[index[i]] / temperature);
      std::vector<int> order(classes);
      std::iota(order.begin(), order.end(), 0);
      std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return votes[a] > votes[b]; });
      int32_t label = testLabels[start + r];
      top1 += order[0] == label;
      top5 += std::find(order.begin(), order.begin() + std::min(5, classes), label) !=
              order.begin() + std::min(5, classes);
    }
  }
  result.top1 = double(top1) / nTest;
  result.top5 = double(top5) / nTest;
  return true;
}

} // namespace kiln
