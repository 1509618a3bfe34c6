//===- ThreadPool.cpp - fork-join parallel loops for thunks ---------------===//
#include "runtime/exec/ThreadPool.h"

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

void ThreadPool::drain(int thread) {
  Span span{thread, {}, {}};
  for (int64_t i = next.fetch_add(1); i < total;) {
    if (spans && span.begin == std::chrono::steady_clock::time_point{})
      span.begin = std::chrono::steady_clock::now();
    (*job)(i);
    // The next chunk is claimed before this one counts as done: run() may
    // return (and the next run() set `total`) only after that.
    int64_t claimed = next.fetch_add(1);
    bool last = claimed >= total;
    if (spans && last) {
      span.end = std::chrono::steady_clock::now();
      std::lock_guard<std::mutex> lock(spanMutex);
      spans->push_back(span);
    }
    done.fetch_add(1, std::memory_order_release);
    if (last)
      return;
    i = claimed;
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
    drain(thread);
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
  {
    std::lock_guard<std::mutex> lock(mutex);
    job = &fn;
    total = chunks;
    done.store(0);
    next.store(0);
    generation.fetch_add(1, std::memory_order_release);
  }
  wake.notify_all();
  drain(0);
  while (done.load(std::memory_order_acquire) < chunks)
    std::this_thread::yield();
}

} // namespace kiln
