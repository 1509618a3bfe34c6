//===- LinearProbe.cpp - a linear classifier on frozen features -----------===//
#include "runtime/train/LinearProbe.h"

#include "runtime/data/Random.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace kiln {

double linearProbe(const std::vector<float> &train, const std::vector<int32_t> &trainLabels,
                   const std::vector<float> &test, const std::vector<int32_t> &testLabels,
                   int64_t dim, int classes, const LinearProbeOptions &o) {
  int64_t n = trainLabels.size();
  // Standardisation from the training features.
  std::vector<double> mean(dim, 0.0), inv(dim, 0.0);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t d = 0; d < dim; ++d)
      mean[d] += train[i * dim + d] / double(n);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t d = 0; d < dim; ++d)
      inv[d] += std::pow(train[i * dim + d] - mean[d], 2) / double(n);
  for (double &v : inv)
    v = 1.0 / std::sqrt(v + 1e-12);
  auto feature = [&](const std::vector<float> &x, int64_t i, int64_t d) {
    return (x[i * dim + d] - mean[d]) * inv[d];
  };
  // Logits = W·x + b; one row of W per class, the bias last.
  int64_t width = dim + 1;
  std::vector<double> w(classes * width, 0.0), m(w.size(), 0.0), v(w.size(), 0.0), g(w.size());
  auto logits = [&](const std::vector<float> &x, int64_t i, std::vector<double> &z) {
    for (int c = 0; c < classes; ++c) {
      double s = w[c * width + dim];
      for (int64_t d = 0; d < dim; ++d)
        s += w[c * width + d] * feature(x, i, d);
      z[c] = s;
    }
  };
  std::vector<int64_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::vector<double> z(classes);
  int64_t step = 0, steps = o.epochs * ((n + o.batch - 1) / o.batch);
  for (int epoch = 0; epoch < o.epochs; ++epoch) {
    data::Random rng(o.seed, 0x50524f4245ull /* "PROBE" */, epoch);
    for (int64_t i = n - 1; i > 0; --i)
      std::swap(order[i], order[rng.next() % (i + 1)]);
    for (int64_t start = 0; start < n; start += o.batch) {
      int64_t rows = std::min<int64_t>(o.batch, n - start);
      std::fill(g.begin(), g.end(), 0.0);
      // Cross-entropy gradient: (softmax(z) - onehot) ⊗ [x, 1], batch mean.
      for (int64_t r = 0; r < rows; ++r) {
        int64_t i = order[start + r];
        logits(train, i, z);
        double top = *std::max_element(z.begin(), z.end()), total = 0;
        for (double &x : z)
          total += (x = std::exp(x - top));
        for (int c = 0; c < classes; ++c) {
          double delta = (z[c] / total - (c == trainLabels[i])) / rows;
          for (int64_t d = 0; d < dim; ++d)
            g[c * width + d] += delta * feature(train, i, d);
          g[c * width + dim] += delta;
        }
      }
      // Adam with a cosine learning rate.
      ++step;
      double lr = 0.5 * o.lr * (1 + std::cos(3.141592653589793 * double(step - 1) / steps));
      for (size_t k = 0; k < w.size(); ++k) {
        m[k] = 0.9 * m[k] + 0.1 * g[k];
        v[k] = 0.999 * v[k] + 0.001 * g[k] * g[k];
        double mh = m[k] / (1 - std::pow(0.9, step)), vh = v[k] / (1 - std::pow(0.999, step));
        w[k] -= lr * mh / (std::sqrt(vh) + 1e-8);
      }
    }
  }
  int64_t correct = 0;
  for (size_t i = 0; i < testLabels.size(); ++i) {
    logits(test, i, z);
    correct += std::max_element(z.begin(), z.end()) - z.begin() == testLabels[i];
  }
  return double(correct) / testLabels.size();
}

} // namespace kiln
