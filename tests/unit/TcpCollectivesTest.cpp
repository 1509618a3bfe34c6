//===- TcpCollectivesTest.cpp - the TCP transport's collectives, ranks as threads ===//
//
// Three ranks in one process, each with its own connection to rank 0 on a
// free local port, as torchrun-style variables would set them up. The
// all-reduce, reduce-scatter and all-gather are checked against closed
// forms: f32 added in rank order, bf16 added in f32 in rank order and
// rounded once, gathered blocks as their ranks wrote them.
//
//===----------------------------------------------------------------------===//
#include "runtime/artifact/LowFloat.h"
#include "runtime/comm/Collectives.h"

#include <gtest/gtest.h>

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <functional>
#include <thread>

namespace kiln {
namespace {

/// A port nobody listens on now (the kernel's choice for port 0).
int freePort() {
  int fd = socket(AF_INET6, SOCK_STREAM, 0);
  sockaddr_in6 addr{};
  addr.sin6_family = AF_INET6;
  socklen_t len = sizeof addr;
  if (bind(fd, reinterpret_cast<sockaddr *>(&addr), sizeof addr) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr *>(&addr), &len) != 0)
    return -1;
  close(fd);
  return ntohs(addr.sin6_port);
}

/// Rank r's f32 element j: values of differing exponents, so that the
/// order of the additions shows in the bits.
float valueOf(int r, int64_t j) { return (1.0f + 0.37f * j) * (r == 1 ? -3.1f : 1.7f + r); }

/// Rank r's bf16 element j, exact in bf16: 1 + k/128 on rank 0, small
/// multiples of 1/256 on the others, whose sum with rank 0's rounds
/// differently at once than after each addition.
float bf16ValueOf(int r, int64_t j) {
  if (r == 0)
    return 1.0f + float(j % 64) / 128;
  return float(int(j % (3 + 2 * r)) - (1 + r)) / 256;
}

/// Runs `rank(comm, r)` on `ranks` threads, each connected as rank r (its
/// World as `setup` leaves it) within `timeout` seconds; returns each
/// rank's connection error ("" if it joined) and seconds to connect.
std::vector<std::pair<std::string, double>>
connectThreads(int ranks, const std::function<void(Collectives &, int)> &rank,
               const std::function<void(World &)> &setup = nullptr, double timeout = 30) {
  int port = freePort();
  std::vector<std::pair<std::string, double>> results(ranks);
  std::vector<std::thread> threads;
  for (int r = 0; r < ranks; ++r)
    threads.emplace_back([&, r] {
      World w;
      w.rank = r, w.size = ranks, w.launcher = "torchrun";
      w.masterAddr = "127.0.0.1", w.masterPort = port;
      if (setup)
        setup(w);
      auto start = std::chrono::steady_clock::now();
      auto comm = connectRanks(w, timeout, results[r].first);
      results[r].second =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      if (comm)
        rank(*comm, r);
    });
  for (std::thread &t : threads)
    t.join();
  return results;
}

/// connectThreads, every rank required to join.
::testing::AssertionResult runRanks(int ranks,
                                    const std::function<void(Collectives &, int)> &rank,
                                    const std::function<void(World &)> &setup = nullptr) {
  auto results = connectThreads(ranks, rank, setup);
  for (int r = 0; r < ranks; ++r)
    if (!results[r].first.empty())
      return ::testing::AssertionFailure() << "rank " << r << ": " << results[r].first;
  return ::testing::AssertionSuccess();
}

constexpr int kRanks = 3;

/// Element j's sums over the ranks as the transport defines them: f32 in
/// rank order, bf16 in f32 in rank order and rounded once.
float f32Sum(int64_t j) { return (valueOf(0, j) + valueOf(1, j)) + valueOf(2, j); }
uint16_t bf16Sum(int64_t j) {
  return floatToBf16((bf16ValueOf(0, j) + bf16ValueOf(1, j)) + bf16ValueOf(2, j));
}

/// Every rank's f32 and bf16 buffers of n elements, holding its values.
struct RankBuffers {
  explicit RankBuffers(int64_t n) : f32(kRanks, std::vector<float>(n)), bf16(kRanks) {
    for (int r = 0; r < kRanks; ++r)
      for (int64_t j = 0; j < n; ++j) {
        f32[r][j] = valueOf(r, j);
        bf16[r].push_back(floatToBf16(bf16ValueOf(r, j)));
      }
  }
  /// Whether rank r's element j holds the sums.
  ::testing::AssertionResult summed(int r, int64_t j) const {
    if (bitsOf(f32[r][j]) != bitsOf(f32Sum(j)) || bf16[r][j] != bf16Sum(j))
      return ::testing::AssertionFailure() << "rank " << r << ", element " << j;
    return ::testing::AssertionSuccess();
  }
  std::vector<std::vector<float>> f32;
  std::vector<std::vector<uint16_t>> bf16;
};

TEST(TcpCollectives, SumsF32AndBf16InRankOrder) {
  constexpr int64_t n = 1000;
  RankBuffers data(n);
  auto &f32 = data.f32;
  auto &bf16 = data.bf16;
  ASSERT_TRUE(runRanks(kRanks, [&](Collectives &comm, int r) {
    comm.startAllReduce(0, DType::F32, f32[r].data(), n);
    comm.startAllReduce(1, DType::BF16, bf16[r].data(), n);
    comm.wait(0);
    comm.wait(1);
  }));
  int64_t roundedOnce = 0;
  for (int64_t j = 0; j < n; ++j) {
    auto b = [&](int r) { return bf16ValueOf(r, j); };
    uint16_t twice = floatToBf16(bf16ToFloat(floatToBf16(b(0) + b(1))) + b(2));
    roundedOnce += bf16Sum(j) != twice;
    for (int r = 0; r < kRanks; ++r)
      ASSERT_TRUE(data.summed(r, j));
  }
  // The data tell one rounding from two: the check above could fail.
  EXPECT_GT(roundedOnce, 0);
}

// Each rank's block of a reduce-scatter has the bits the all-reduce gives
// it (the sharded optimizer's updates then match the replicated ones).
TEST(TcpCollectives, ReduceScatterLeavesEachRankItsBlockOfTheSum) {
  constexpr int64_t block = 300;
  RankBuffers data(kRanks * block);
  ASSERT_TRUE(runRanks(kRanks, [&](Collectives &comm, int r) {
    comm.startReduceScatter(7, DType::F32, data.f32[r].data(), block);
    comm.startReduceScatter(8, DType::BF16, data.bf16[r].data(), block);
    comm.wait(8);
    comm.wait(7);
  }));
  for (int r = 0; r < kRanks; ++r)
    for (int64_t j = r * block; j < (r + 1) * block; ++j)
      ASSERT_TRUE(data.summed(r, j));
}

TEST(TcpCollectives, AllGatherGivesEveryRankEveryBlock) {
  constexpr int64_t block = 257, n = kRanks * block;
  std::vector<std::vector<float>> f32(kRanks, std::vector<float>(n, -1.0f));
  std::vector<std::vector<uint16_t>> bf16(kRanks, std::vector<uint16_t>(n, 0xffff));
  ASSERT_TRUE(runRanks(kRanks, [&](Collectives &comm, int r) {
    for (int64_t j = r * block; j < (r + 1) * block; ++j) {
      f32[r][j] = valueOf(r, j);
      bf16[r][j] = floatToBf16(bf16ValueOf(r, j));
    }
    comm.startAllGather(3, DType::F32, f32[r].data(), block);
    comm.startAllGather(4, DType::BF16, bf16[r].data(), block);
    comm.wait(3);
    comm.wait(4);
  }));
  for (int r = 0; r < kRanks; ++r)
    for (int64_t j = 0; j < n; ++j) {
      int owner = static_cast<int>(j / block);
      ASSERT_EQ(bitsOf(f32[r][j]), bitsOf(valueOf(owner, j))) << "rank " << r << ", element " << j;
      ASSERT_EQ(bf16[r][j], floatToBf16(bf16ValueOf(owner, j)))
          << "rank " << r << ", element " << j;
    }
}

/// The handshake between threads: with one secret on every rank the job
/// forms and sums; a rank with another secret is turned away (it says
/// rank 0 did not prove the secret), and rank 0 gives up at its timeout.
TEST(TcpCollectives, RanksWithTheSecretJoinOthersAreTurnedAway) {
  std::vector<double> sums(kRanks, 0);
  ASSERT_TRUE(runRanks(kRanks, [&](Collectives &comm, int r) {
    double x = r + 1;
    comm.allReduceSum(&x, 1);
    sums[r] = x;
  }, [](World &w) { w.secret = "s3cret", w.jobId = "job-1", w.modelCrc = 7; }));
  EXPECT_EQ(sums, std::vector<double>(kRanks, 6.0));

  auto results = connectThreads(kRanks, [](Collectives &, int) {}, [](World &w) {
    w.secret = w.rank == 1 ? "guess" : "s3cret";
  }, /*timeout=*/2);
  EXPECT_NE(results[1].first.find("did not prove the job secret"), std::string::npos)
      << results[1].first;
  EXPECT_NE(results[0].first.find("only 1 of 2 other ranks joined"), std::string::npos)
      << results[0].first;
  EXPECT_GE(results[0].second, 2.0);
  EXPECT_LT(results[0].second, 3.0); // the timeout holds
}

/// What differs between a rank and rank 0 is named on the refused rank.
TEST(TcpCollectives, RefusedRanksSayWhatDiffers) {
  struct Case {
    std::function<void(World &)> differ;
    std::string said;
  };
  std::vector<Case> cases = {
      {[](World &w) { w.modelCrc = 0xabc; },
       "rank 1 runs another model (CRC-32 00000abc, rank 0's 00000007)"},
      {[](World &w) { w.jobId = "another"; }, "it belongs to another job"},
      {[](World &w) { w.secret = "only-here"; }, "it has a job secret and rank 0 none"},
  };
  for (const Case &c : cases) {
    auto results = connectThreads(2, [](Collectives &, int) {}, [&](World &w) {
      w.jobId = "job", w.modelCrc = 7;
      if (w.rank == 1)
        c.differ(w);
    }, /*timeout=*/1);
    EXPECT_NE(results[1].first.find(c.said), std::string::npos) << results[1].first;
    EXPECT_NE(results[1].first.find("rank 0 turned this rank away"), std::string::npos);
  }
}

} // namespace
} // namespace kiln
