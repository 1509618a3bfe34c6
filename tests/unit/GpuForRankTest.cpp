//===- GpuForRankTest.cpp - which visible GPU a rank opens ----------------===//
#include "runtime/exec/GpuForRank.h"

#include <gtest/gtest.h>

namespace kiln {
namespace {

// mpirun or torchrun on a machine of 8 GPUs: each rank takes its own.
TEST(GpuForRank, EveryGpuVisibleTakesTheLocalRanks) {
  std::string error;
  for (int rank = 0; rank < 8; ++rank)
    EXPECT_EQ(gpuForRank(rank, 8, error), rank);
  EXPECT_EQ(error, "");
}

// srun --gpus-per-task=1: local rank 5 sees one GPU, its own.
TEST(GpuForRank, OneVisibleGpuIsTheRanksWhateverItsLocalRank) {
  std::string error;
  EXPECT_EQ(gpuForRank(5, 1, error), 0);
  EXPECT_EQ(gpuForRank(0, 1, error), 0);
  EXPECT_EQ(error, "");
}

// More ranks than the GPUs they share: refused, with what to do.
TEST(GpuForRank, MoreRanksThanSharedGpusIsRefused) {
  std::string error;
  EXPECT_EQ(gpuForRank(4, 4, error), -1);
  EXPECT_NE(error.find("LOCAL_RANK is 4 but it sees 4 GPUs"), std::string::npos) << error;
  EXPECT_NE(error.find("CUDA_VISIBLE_DEVICES"), std::string::npos) << error;
}

} // namespace
} // namespace kiln
