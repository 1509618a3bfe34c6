//===- ShuffleBuffer.h - webdataset's shuffle buffer, deterministic -*- C++ -*-===//
//
// webdataset's _shuffle(data, bufsize, initial) and pick(), driven by
// kiln's Random so the order is fixed by the seed. Each step of Python's
// loop appends an item and, while the buffer holds fewer than `bufsize`,
// a second one; then, once it holds at least `initial`, it yields a pick:
// a uniformly chosen slot whose item is replaced by the last one. At the
// end of the stream the rest is picked out the same way.
//
// Pull-based use (a lane reading its shards):
//   if (buffer.push(std::move(sample))) buffer.pop(out); // out is ready
//   ...at the end of the lane's stream: while (buffer.pop(out)) ...
//
//===----------------------------------------------------------------------===//
#ifndef KILN_RUNTIME_DATA_SHUFFLEBUFFER_H
#define KILN_RUNTIME_DATA_SHUFFLEBUFFER_H

#include "runtime/data/Random.h"

#include <algorithm>
#include <cstddef>
#include <utility>
#include <vector>

namespace kiln::data {

template <typename T> class ShuffleBuffer {
public:
  /// webdataset's defaults are bufsize 1000, initial 100.
  ShuffleBuffer(size_t bufsize, size_t initial, Random random)
      : bufsize(bufsize), initial(std::min(initial, bufsize)), random(random) {}

  /// Adds the stream's next item. True when an item is ready: take it with
  /// one pop() before the next push().
  bool push(T item) {
    items.push_back(std::move(item));
    if (!secondOfStep && items.size() < bufsize) {
      secondOfStep = true; // still filling: this step takes one more item
      return false;
    }
    secondOfStep = false;
    return items.size() >= initial;
  }

  /// pick(): takes out a uniformly chosen item (the modulo bias is below
  /// 2^-40 for any real buffer). False when the buffer is empty; an empty
  /// buffer starts over as for a new stream.
  bool pop(T &out) {
    if (items.empty())
      return false;
    size_t k = size_t(random.next() % items.size());
    out = std::move(items[k]);
    if (k + 1 != items.size())
      items[k] = std::move(items.back());
    items.pop_back();
    if (items.empty())
      secondOfStep = false;
    return true;
  }

  size_t size() const { return items.size(); }

private:
  size_t bufsize, initial;
  Random random;
  std::vector<T> items;
  bool secondOfStep = false;
};

} // namespace kiln::data

#endif // KILN_RUNTIME_DATA_SHUFFLEBUFFER_H
