//===- CublasPlan.cpp - a Gemm thunk as cuBLAS strided-batched calls ------===//
#include "runtime/exec/CublasPlan.h"

namespace kiln {

std::vector<CublasGemm> planCublasGemm(const GemmCall &g) {
  std::vector<int64_t> batch = g.batch;
  std::vector<int64_t> strides[3] = {g.a.batchStrides, g.b.batchStrides, g.c.batchStrides};
  for (int64_t d = (int64_t)batch.size() - 2; d >= 0; --d) {
    bool merge = true;
    for (auto &s : strides)
      merge &= s[d] == s[d + 1] * batch[d + 1];
    if (!merge)
      continue;
    batch[d] *= batch[d + 1];
    batch.erase(batch.begin() + d + 1);
    for (auto &s : strides) {
      s[d] = s[d + 1];
      s.erase(s.begin() + d + 1);
    }
  }
  int64_t inner = batch.empty() ? 1 : batch.back(), outer = 1;
  for (size_t d = 0; d + 1 < batch.size(); ++d)
    outer *= batch[d];
  auto innerStride = [&](int o) { return batch.empty() ? 0 : strides[o].back(); };
  std::vector<CublasGemm> calls;
  for (int64_t bi = 0; bi < outer; ++bi) {
    // This outer index's offsets over the leading batch dims.
    int64_t off[3] = {g.a.offset, g.b.offset, g.c.offset};
    for (int64_t d = (int64_t)batch.size() - 2, rest = bi; d >= 0; --d) {
      for (int o = 0; o < 3; ++o)
        off[o] += (rest % batch[d]) * strides[o][d];
      rest /= batch[d];
    }
    // Cᵀ = op(B)ᵀ·op(A)ᵀ: cuBLAS's A is kiln's B.
    calls.push_back({g.b.transpose, g.a.transpose, g.n, g.m, g.k, off[1], g.b.ld, innerStride(1),
                     off[0], g.a.ld, innerStride(0), off[2], g.c.ld, innerStride(2), inner});
  }
  return calls;
}

} // namespace kiln
