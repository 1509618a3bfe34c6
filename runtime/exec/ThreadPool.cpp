//===- ThreadPool.cpp - fork-join parallel loops for thunks ---------------===//
#include "runtime/exec/ThreadPool.h"

#include <cassert>

namespace kiln {

ThreadPool::ThreadPool(int threads) {
  for (int i = 1; i < threads; ++i)
    workers.emplace_back([this, i] { work(i); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mutex);
    stop = true;
    generation.fetch_add(1);
  }
  wake.notify_all();
  for (std::thread &t : workers)
    t.join();
}

namespace {
constexpr uint64_t kChunkBits = 0xffffffffu;
uint64_t tagOf(uint64_t generation) { return generation << 32; }
} // namespace

bool ThreadPool::claim(uint64_t gen, int64_t &chunk) {
  for (;;) {
    uint64_t c = claims.load();
    if ((c & ~kChunkBits) != tagOf(gen) || int64_t(c & kChunkBits) >= total.load())
      return false;
    if (claims.compare_exchange_weak(c, c + 1)) {
      chunk = int64_t(c & kChunkBits);
      return true;
    }
  }
}

void ThreadPool::drain(int thread, uint64_t gen) {
  int64_t chunk;
  if (!claim(gen, chunk))
    return;
  Span span{thread, std::chrono::steady_clock::now(), {}};
  for (;;) {
    (*job.load())(chunk);
    // The next chunk is claimed, and the span recorded, before this one
    // counts as done: once all are done run() returns and its caller may
    // read the spans or start the next run.
    int64_t next;
    bool more = claim(gen, next);
    if (!more && spans) {
      span.end = std::chrono::steady_clock::now();
      std::lock_guard<std::mutex> lock(spanMutex);
      spans->push_back(span);
    }
    done.fetch_add(1, std::memory_order_release);
    if (!more)
      return;
    chunk = next;
  }
}

void ThreadPool::work(int thread) {
  uint64_t seen = 0;
  while (true) {
    // Spin a little: the next thunk usually follows within microseconds.
    for (int spin = 0; spin < 20000 && generation.load(std::memory_order_acquire) == seen; ++spin)
      std::this_thread::yield();
    if (generation.load(std::memory_order_acquire) == seen) {
      std::unique_lock<std::mutex> lock(mutex);
      wake.wait(lock, [&] { return generation.load() != seen; });
    }
    seen = generation.load(std::memory_order_acquire);
    if (stop)
      return;
    drain(thread, seen);
  }
}

void ThreadPool::run(int64_t chunks, const std::function<void(int64_t)> &fn) {
  if (workers.empty() || chunks == 1) {
    auto begin = std::chrono::steady_clock::now();
    for (int64_t i = 0; i < chunks; ++i)
      fn(i);
    if (spans)
      spans->push_back({0, begin, std::chrono::steady_clock::now()});
    return;
  }
  // The chunk index has 32 bits of the claim word (see claims).
  assert(uint64_t(chunks) <= kChunkBits && "too many chunks for one run");
  uint64_t gen;
  {
    std::lock_guard<std::mutex> lock(mutex);
    // The new tag first: from here no claim of an earlier run succeeds,
    // whatever total and job it then reads.
    gen = generation.load() + 1;
    claims.store(tagOf(gen));
    total.store(chunks);
    job.store(&fn);
    done.store(0);
    generation.store(gen, std::memory_order_release);
  }
  wake.notify_all();
  drain(0, gen);
  while (done.load(std::memory_order_acquire) < chunks)
    std::this_thread::yield();
}

} // namespace kiln
