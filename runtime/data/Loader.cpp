//===- Loader.cpp - shuffled, augmented batches with prefetch -------------===//
#include "runtime/data/Loader.h"

#include <numeric>

namespace kiln::data {

Loader::Loader(const Split &split, std::map<std::string, ViewSpec> views, int64_t batch,
               uint64_t seed, int rank, int ranks)
    : split(split), views(std::move(views)), batch(batch), seed(seed), rank(rank), ranks(ranks) {}

Loader::~Loader() {
  if (pending.valid())
    pending.wait();
}

const std::vector<int64_t> &Loader::order(int64_t epoch) {
  std::lock_guard<std::mutex> lock(ordersMutex);
  auto it = orders.find(epoch);
  if (it != orders.end())
    return it->second;
  std::vector<int64_t> perm(split.count);
  std::iota(perm.begin(), perm.end(), 0);
  Random r(seed, 0x5348554646ull /* "SHUFF" */, epoch);
  for (int64_t i = split.count - 1; i > 0; --i)
    std::swap(perm[i], perm[r.next() % (i + 1)]);
  orders.erase(orders.begin(), orders.lower_bound(epoch - 1));
  return orders[epoch] = std::move(perm);
}

Batch Loader::build(int64_t epoch, int64_t step) {
  const std::vector<int64_t> &perm = order(epoch);
  Batch b;
  b.labels.resize(batch);
  for (auto &[name, view] : views)
    b.views[name].resize(view.count * batch * view.size * view.size);
  int64_t pixels = split.height * split.width;
  for (int64_t i = 0; i < batch; ++i) {
    int64_t sample = perm[(step * ranks + rank) * batch + i];
    b.labels[i] = split.labels[sample];
    uint64_t viewIndex = 0;
    for (auto &[name, view] : views) {
      for (int64_t c = 0; c < view.count; ++c) {
        // Copy c of this sample's view: row c·batch + i (view-major).
        Random r(seed, (epoch << 16) | (viewIndex << 8) | c, sample);
        applyView(view, &split.images[sample * pixels], split.height, split.width, r,
                  &b.views[name][(c * batch + i) * view.size * view.size]);
      }
      ++viewIndex;
    }
  }
  return b;
}

Batch Loader::get(int64_t epoch, int64_t step) {
  Batch b = pending.valid() && pendingEpoch == epoch && pendingStep == step ? pending.get()
                                                                           : build(epoch, step);
  if (pending.valid())
    pending.wait();
  int64_t nextEpoch = step + 1 < stepsPerEpoch() ? epoch : epoch + 1;
  int64_t nextStep = step + 1 < stepsPerEpoch() ? step + 1 : 0;
  pendingEpoch = nextEpoch;
  pendingStep = nextStep;
  pending = std::async(std::launch::async, [this, nextEpoch, nextStep] {
    return build(nextEpoch, nextStep);
  });
  return b;
}

} // namespace kiln::data
