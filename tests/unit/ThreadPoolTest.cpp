//===- ThreadPoolTest.cpp - what kiln bench --trace learns from the pool --===//
#include "runtime/exec/ThreadPool.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <csignal>
#include <unistd.h>
#include <atomic>
#include <thread>

using namespace kiln;

/// Two chunks that each wait for the other to start run on both threads:
/// each thread reports one span, inside the run, covering its chunk.
TEST(ThreadPool, SpansSayWhichThreadRanWhat) {
  ThreadPool pool(2);
  std::vector<ThreadPool::Span> spans;
  pool.spans = &spans;
  std::atomic<int> started{0};
  std::chrono::steady_clock::time_point ran[2];
  auto begin = std::chrono::steady_clock::now();
  pool.run(2, [&](int64_t i) {
    started.fetch_add(1);
    while (started.load() < 2)
      std::this_thread::yield();
    ran[i] = std::chrono::steady_clock::now();
  });
  auto end = std::chrono::steady_clock::now();
  pool.spans = nullptr;
  ASSERT_EQ(spans.size(), 2u);
  std::sort(spans.begin(), spans.end(), [](auto &a, auto &b) { return a.thread < b.thread; });
  for (int t = 0; t < 2; ++t) {
    EXPECT_EQ(spans[t].thread, t);
    EXPECT_LE(begin, spans[t].begin);
    EXPECT_LE(spans[t].begin, spans[t].end);
    EXPECT_LE(spans[t].end, end);
  }
  for (auto t : ran) // each chunk inside the span of the thread that ran it
    EXPECT_TRUE(std::any_of(spans.begin(), spans.end(),
                            [&](auto &s) { return s.begin <= t && t <= s.end; }));
  // Untraced runs record nothing; traced single chunks run on the caller.
  pool.run(4, [](int64_t) {});
  EXPECT_EQ(spans.size(), 2u);
  spans.clear();
  pool.spans = &spans;
  pool.run(1, [](int64_t) {});
  ASSERT_EQ(spans.size(), 1u);
  EXPECT_EQ(spans[0].thread, 0);
}

/// Chunks are claimed exactly once, traced or not, over many short runs
/// (a worker finishing its last chunk must not take one of the next run).
TEST(ThreadPool, EveryChunkRunsOnceAcrossRuns) {
  ThreadPool pool(2);
  std::vector<ThreadPool::Span> spans;
  for (int traced = 0; traced < 2; ++traced) {
    pool.spans = traced ? &spans : nullptr;
    for (int r = 0; r < 2000; ++r) {
      int64_t chunks = 1 + r % 7;
      std::vector<std::atomic<int>> hits(chunks);
      pool.run(chunks, [&](int64_t i) { hits[i].fetch_add(1); });
      for (auto &h : hits)
        ASSERT_EQ(h.load(), 1) << "run " << r;
      spans.clear();
    }
  }
}

/// The same while signals interrupt the threads and more threads than
/// cores compete: a worker stopped between reading the chunk counter and
/// claiming took a chunk of the next run, ran it twice and let run()
/// return while it still ran (kiln train crashed in oneDNN when SIGTERM
/// came mid-step, about one run in ten).
TEST(ThreadPool, EveryChunkRunsOnceWhileSignalsInterruptTheThreads) {
  struct sigaction action {}, previous{};
  action.sa_handler = [](int) {};
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;
  ASSERT_EQ(sigaction(SIGUSR2, &action, &previous), 0);
  ThreadPool pool(2 * std::max(2u, std::thread::hardware_concurrency()));
  std::atomic<bool> running{true};
  std::thread sender([&] {
    while (running.load()) {
      ::kill(::getpid(), SIGUSR2); // to any thread: often a worker
      std::this_thread::yield();
    }
  });
  int doubled = 0, early = 0;
  for (int r = 0; r < 100000 && !doubled && !early; ++r) {
    int64_t chunks = 2 + r % 9;
    std::vector<std::atomic<int>> hits(chunks), finished(chunks);
    pool.run(chunks, [&](int64_t i) {
      hits[i].fetch_add(1);
      finished[i].fetch_add(1);
    });
    for (int64_t i = 0; i < chunks; ++i) {
      doubled += hits[i].load() != 1;
      early += finished[i].load() != 1;
    }
  }
  running = false;
  sender.join();
  sigaction(SIGUSR2, &previous, nullptr);
  EXPECT_EQ(doubled, 0) << "a chunk ran twice or never";
  EXPECT_EQ(early, 0) << "run() returned before a chunk had finished";
}
