//===- ThreadPool.h - fork-join parallel loops for thunks ---------*- C++ -*-===//
//
// The executor splits each kernel's rows (or a GEMM's batches or rows)
// into chunks and runs them on a fixed set of threads, the caller
// included. Workers spin briefly between thunks before sleeping, since a
// step launches thousands of short thunks.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_RUNTIME_EXEC_THREADPOOL_H
#define KILN_RUNTIME_EXEC_THREADPOOL_H

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace kiln {

class ThreadPool {
public:
  /// `threads` in all, the calling thread included (at least 1).
  explicit ThreadPool(int threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool &) = delete;
  ThreadPool &operator=(const ThreadPool &) = delete;

  int size() const { return static_cast<int>(workers.size()) + 1; }

  /// Runs fn(i) for every i in [0, chunks), spread over the threads;
  /// returns when all are done.
  void run(int64_t chunks, const std::function<void(int64_t)> &fn);

  /// What one thread did of a run(): from the start of its first chunk to
  /// the end of its last. Thread 0 is the caller.
  struct Span {
    int thread;
    std::chrono::steady_clock::time_point begin, end;
  };
  /// When set, every run() appends a Span per thread that ran part of it
  /// (kiln bench --trace).
  std::vector<Span> *spans = nullptr;

private:
  void work(int thread);
  /// Runs chunks of run() number `generation` until none is left.
  void drain(int thread, uint64_t generation);
  /// Takes the next chunk of run() number `generation`: false when none
  /// is left or that run is over.
  bool claim(uint64_t generation, int64_t &chunk);

  std::vector<std::thread> workers;
  std::mutex mutex;
  std::condition_variable wake;
  std::atomic<uint64_t> generation{0};
  /// The run's generation (high 32 bits) and its next unclaimed chunk: a
  /// chunk is claimed by a compare-and-swap that checks both, so a thread
  /// still draining an earlier run (descheduled, or interrupted by a
  /// signal, between reading and claiming) can never take a chunk of this
  /// one: that ran the chunk twice, counted it twice, and let run() return
  /// while the chunk still ran.
  std::atomic<uint64_t> claims{0};
  std::atomic<int64_t> total{0}, done{0};
  std::atomic<const std::function<void(int64_t)> *> job{nullptr};
  std::atomic<bool> stop{false};
  std::mutex spanMutex;
};

} // namespace kiln

#endif // KILN_RUNTIME_EXEC_THREADPOOL_H
