//===- mpi-collectives-check.cpp - the MPI transport's collectives --------===//
//
// Run under mpirun with 2 or more ranks: all-reduce and reduce-scatter of
// f32 and bf16 and all-gather of f32 against closed forms. MPI picks its
// own summation order, so with 2 ranks a sum must be exact (one addition:
// f32, or bf16 added in f32 and rounded to nearest even), the same bits in
// the all-reduce and in the rank's reduce-scatter block, and with more
// within the roundings of its partial sums; gathered blocks must be exact.
// Exit 0 when all hold, 1 with the first difference.
//
//===----------------------------------------------------------------------===//
#include "runtime/artifact/LowFloat.h"
#include "runtime/comm/Collectives.h"

#include <cmath>
#include <cstdio>
#include <vector>

using namespace kiln;

namespace {

/// Rank r's f32 element j: differing exponents, so the order of the
/// additions shows in the bits.
float valueOf(int r, int64_t j) { return (1.0f + 0.37f * j) * (r % 2 ? -3.1f : 1.7f + r); }

/// Rank r's bf16 element j, exact in bf16: 1 + k/128 on rank 0, small
/// multiples of 1/256 on the others, so that the sum needs rounding (to
/// nearest even, not truncation).
float bf16ValueOf(int r, int64_t j) {
  if (r == 0)
    return 1.0f + float(j % 64) / 128;
  return float(int(j % (3 + 2 * r)) - (1 + r)) / 256;
}

int failed(int rank, const char *what, int64_t j, double got, double want) {
  std::fprintf(stderr, "rank %d: %s, element %lld: %.9g, expected %.9g\n", rank, what,
               (long long)j, got, want);
  return 1;
}

} // namespace

int main() {
  World world;
  std::string error;
  if (!detectWorld(world, error) || world.launcher != "mpirun" || world.size < 2) {
    std::fprintf(stderr, "run under mpirun with 2 or more ranks%s%s\n", error.empty() ? "" : ": ",
                 error.c_str());
    return 2;
  }
  auto comm = connectRanks(world, 60, error);
  if (!comm) {
    std::fprintf(stderr, "%s\n", error.c_str());
    return 1;
  }
  const int n = comm->world().size, rank = comm->world().rank;
  const int64_t block = 301, count = n * block;
  std::vector<float> sum(count), scattered(count), gathered(count, -1.0f);
  std::vector<uint16_t> sum16(count), scattered16(count);
  for (int64_t j = 0; j < count; ++j) {
    sum[j] = scattered[j] = valueOf(rank, j);
    sum16[j] = scattered16[j] = floatToBf16(bf16ValueOf(rank, j));
  }
  for (int64_t j = rank * block; j < (rank + 1) * block; ++j)
    gathered[j] = valueOf(rank, j);
  comm->startAllReduce(0, DType::F32, sum.data(), count);
  comm->startAllReduce(1, DType::BF16, sum16.data(), count);
  comm->startReduceScatter(2, DType::F32, scattered.data(), block);
  comm->startReduceScatter(3, DType::BF16, scattered16.data(), block);
  comm->startAllGather(4, DType::F32, gathered.data(), block);
  for (int64_t id = 0; id < 5; ++id)
    comm->wait(id);

  for (int64_t j = 0; j < count; ++j) {
    double exact = 0, magnitude = 0, exact16 = 0, magnitude16 = 0;
    float inOrder = 0, wide = 0;
    for (int r = 0; r < n; ++r) {
      exact += valueOf(r, j);
      magnitude += std::fabs(valueOf(r, j));
      inOrder += valueOf(r, j);
      exact16 += bf16ValueOf(r, j);
      magnitude16 += std::fabs(bf16ValueOf(r, j));
      wide += bf16ValueOf(r, j);
    }
    // Two ranks: one addition, exact (bf16: in f32, rounded once). More:
    // within the roundings of n-1 partial sums, each at most half an ulp
    // of the magnitudes' sum.
    bool two = n == 2;
    double f32Slack = two ? 0 : (n - 1) * 0x1p-24 * magnitude;
    double bf16Slack = two ? 0 : (n - 1) * 0x1p-8 * magnitude16;
    float b = bf16ToFloat(sum16[j]), want16 = bf16ToFloat(floatToBf16(wide));
    double wantF32 = two ? inOrder : exact, wantBf16 = two ? want16 : exact16;
    if (std::fabs(sum[j] - wantF32) > f32Slack)
      return failed(rank, "f32 all-reduce", j, sum[j], wantF32);
    if (std::fabs(b - wantBf16) > bf16Slack)
      return failed(rank, "bf16 all-reduce", j, b, wantBf16);
    if (j / block == rank) {
      if (std::fabs(scattered[j] - wantF32) > f32Slack)
        return failed(rank, "f32 reduce-scatter", j, scattered[j], wantF32);
      if (std::fabs(bf16ToFloat(scattered16[j]) - wantBf16) > bf16Slack)
        return failed(rank, "bf16 reduce-scatter", j, bf16ToFloat(scattered16[j]), wantBf16);
    }
    if (bitsOf(gathered[j]) != bitsOf(valueOf(static_cast<int>(j / block), j)))
      return failed(rank, "f32 all-gather", j, gathered[j], valueOf(static_cast<int>(j / block), j));
  }
  if (rank == 0)
    std::printf("MPI collectives agree with their closed forms at %d ranks (%lld elements)\n", n,
                (long long)count);
  return 0;
}
