//===- Knn.h - weighted k-nearest-neighbour evaluation ------------*- C++ -*-===//
//
// DINO's eval_knn.knn_classifier: each test feature's k most similar train
// features (cosine: features are l2-normalised first) vote for their class
// with weight exp(similarity / T); the prediction is the class of largest
// total. Similarities come from sgemm in blocks of test rows.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_RUNTIME_TRAIN_KNN_H
#define KILN_RUNTIME_TRAIN_KNN_H

#include <cstdint>
#include <string>
#include <vector>

namespace kiln {

/// Scales each `dim`-long row of `rows` to unit l2 norm (max(norm, 1e-12)).
void l2NormalizeRows(std::vector<float> &rows, int64_t dim);

struct KnnResult {
  double top1 = -1, top5 = -1; // fractions in [0, 1]
};

/// Weighted k-NN of normalised `test` rows against the `train` bank; false
/// with `error` when no GEMM library loads.
bool knnClassify(const std::vector<float> &train, const std::vector<int32_t> &trainLabels,
                 const std::vector<float> &test, const std::vector<int32_t> &testLabels,
                 int64_t dim, int k, double temperature, int classes, KnnResult &result,
                 std::string &error);

} // namespace kiln

#endif // KILN_RUNTIME_TRAIN_KNN_H
