//===- TcpCollectivesTest.cpp - the TCP transport's sums, ranks as threads ===//
//
// Three ranks in one process, each with its own connection to rank 0 on a
// free local port, as torchrun-style variables would set them up. The
// sums are checked against closed forms: f32 added in rank order, bf16
// added in f32 in rank order and rounded once.
//
//===----------------------------------------------------------------------===//
#include "runtime/artifact/LowFloat.h"
#include "runtime/comm/Collectives.h"

#include <gtest/gtest.h>

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

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

TEST(TcpCollectives, SumsF32AndBf16InRankOrder) {
  constexpr int kRanks = 3;
  constexpr int64_t n = 1000;
  int port = freePort();
  ASSERT_GT(port, 0);
  std::vector<std::vector<float>> f32(kRanks, std::vector<float>(n));
  std::vector<std::vector<uint16_t>> bf16(kRanks, std::vector<uint16_t>(n));
  std::vector<std::string> errors(kRanks);
  std::vector<std::thread> ranks;
  for (int r = 0; r < kRanks; ++r)
    ranks.emplace_back([&, r] {
      World w;
      w.rank = r, w.size = kRanks, w.launcher = "torchrun";
      w.masterAddr = "127.0.0.1", w.masterPort = port;
      auto comm = connectRanks(w, 30, errors[r]);
      if (!comm)
        return;
      for (int64_t j = 0; j < n; ++j) {
        f32[r][j] = valueOf(r, j);
        bf16[r][j] = floatToBf16(bf16ValueOf(r, j));
      }
      comm->startAllReduce(0, DType::F32, f32[r].data(), n);
      comm->startAllReduce(1, DType::BF16, bf16[r].data(), n);
      comm->waitAllReduce(0);
      comm->waitAllReduce(1);
    });
  for (std::thread &t : ranks)
    t.join();
  for (int r = 0; r < kRanks; ++r)
    ASSERT_EQ(errors[r], "") << "rank " << r;
  int64_t roundedOnce = 0;
  for (int64_t j = 0; j < n; ++j) {
    float f = (valueOf(0, j) + valueOf(1, j)) + valueOf(2, j);
    auto b = [&](int r) { return bf16ValueOf(r, j); };
    uint16_t once = floatToBf16((b(0) + b(1)) + b(2));
    uint16_t twice = floatToBf16(bf16ToFloat(floatToBf16(b(0) + b(1))) + b(2));
    roundedOnce += once != twice;
    for (int r = 0; r < kRanks; ++r) {
      ASSERT_EQ(bitsOf(f32[r][j]), bitsOf(f)) << "rank " << r << ", element " << j;
      ASSERT_EQ(bf16[r][j], once) << "rank " << r << ", element " << j;
    }
  }
  // The data tell one rounding from two: the check above could fail.
  EXPECT_GT(roundedOnce, 0);
}

} // namespace
} // namespace kiln
