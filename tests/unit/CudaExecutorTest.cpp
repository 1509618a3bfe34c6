//===- CudaExecutorTest.cpp - the GPU runs the step as the CPU does ---------===//
//
// Artifacts compiled with --target=cuda run on GPU 0: every thunk of a step
// (kernels from PTX, cuBLAS GEMMs, copies, random fills, bucket packing),
// run on the GPU and on the CPU from the same inputs, must agree within
// 1e-5 relative to the CPU's largest magnitude; and DINO trained for a few
// steps on each must reach the same loss. On a machine without a GPU (or
// its driver, or a build without CUDA) the tests skip with the reason.
//
//===----------------------------------------------------------------------===//
#include "ArtifactTestUtils.h"

#include "runtime/train/Trainer.h"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <iostream>

using namespace kiln;
namespace fs = std::filesystem;

namespace {

/// `path` (relative to the source tree) compiled for CUDA at `batch`; ""
/// with `error` when it does not compile.
std::string compileForCuda(const std::string &path, int64_t batch, std::string &error) {
  ArtifactOptions options;
  options.cuda = true;
  return test::compileArtifact(path, {{"batch_size", batch}}, options, error);
}

/// Why this machine cannot run the CUDA backend ("" when it can).
const std::string &gpuUnavailable() {
  static std::string reason = [] {
    std::string error;
    std::string dir = compileForCuda("tests/lit/Tools/Inputs/tiny-classifier.json", 8, error);
    if (dir.empty() && error.find("libdevice") != std::string::npos)
      return error; // no CUDA toolkit at all
    EXPECT_FALSE(dir.empty()) << error;
    if (dir.empty())
      return std::string();
    auto exec = Executor::load(dir, 1, error, 0);
    fs::remove_all(dir);
    for (const char *absent : {"no NVIDIA driver", "no usable GPU", "built without CUDA"})
      if (!exec && error.find(absent) != std::string::npos)
        return error;
    EXPECT_TRUE(exec) << error;
    return std::string();
  }();
  return reason;
}

#define SKIP_WITHOUT_GPU()                                                     \
  if (!gpuUnavailable().empty())                                               \
  GTEST_SKIP() << "no GPU to run on: " << gpuUnavailable()

/// Every thunk of every program of `dir` on the GPU and on the CPU.
void expectEveryThunkMatches(const std::string &dir) {
  std::string error;
  auto exec = Executor::load(dir, 2, error, 0);
  ASSERT_TRUE(exec) << error;
  data::Dataset dataset = data::syntheticDataset(512, 128, 3);
  test::feedFirstBatch(*exec, dataset);
  const CompiledModel &c = exec->manifest().compiled;
  for (size_t p = 0; p < c.programs.size(); ++p) {
    double worst = 0;
    for (const auto &d : exec->compareWithDevice(p)) {
      const Thunk &t = c.programs[p].thunks[d.thunk];
      EXPECT_LE(d.relative, 1e-5) << c.programs[p].entry << " thunk " << d.thunk << " ("
                                  << thunkOp(c.kernels, t) << ", " << (t.ops.empty() ? "" : t.ops[0])
                                  << ")";
      worst = std::max(worst, d.relative);
    }
    std::cout << "[cuda] " << dir << " " << c.programs[p].entry << ": "
              << c.programs[p].thunks.size() << " thunks, largest relative difference " << worst
              << "\n";
  }
}

/// A graph (relative to the source tree) and the batch to compile it at.
class EveryThunk : public ::testing::TestWithParam<std::pair<const char *, int64_t>> {};

TEST_P(EveryThunk, MatchesTheCpu) {
  SKIP_WITHOUT_GPU();
  std::string error;
  std::string dir = compileForCuda(GetParam().first, GetParam().second, error);
  ASSERT_FALSE(dir.empty()) << error;
  expectEveryThunkMatches(dir);
  fs::remove_all(dir);
}

INSTANTIATE_TEST_SUITE_P(
    Graphs, EveryThunk,
    ::testing::Values(std::pair<const char *, int64_t>{"tests/lit/Tools/Inputs/tiny-classifier.json", 32},
                      std::pair<const char *, int64_t>{"tests/lit/Tools/Inputs/tiny-cnn.json", 16},
                      std::pair<const char *, int64_t>{"tests/lit/Tools/Inputs/tiny-bn.json", 16},
                      std::pair<const char *, int64_t>{"models/vit-fm-dino.json", 16}));

TEST(CudaExecutor, DinoTrainsToTheCpuLoss) {
  SKIP_WITHOUT_GPU();
  std::string error;
  std::string dir = compileForCuda("models/vit-fm-dino.json", 16, error);
  ASSERT_FALSE(dir.empty()) << error;
  data::Dataset dataset = data::syntheticDataset(16 * 40, 64, 5);
  double last[2];
  for (int gpu : {-1, 0}) {
    auto exec = Executor::load(dir, 2, error, gpu);
    ASSERT_TRUE(exec) << error;
    TrainOptions options;
    options.steps = 40;
    options.runDir = dir + (gpu < 0 ? "-cpu" : "-gpu");
    options.quiet = true;
    TrainResult result;
    ASSERT_TRUE(train(*exec, dataset, options, result, error)) << error;
    last[gpu + 1] = result.lastLoss;
    fs::remove_all(options.runDir);
  }
  std::cout << "[cuda] DINO after 40 steps: loss " << last[0] << " (CPU), " << last[1] << " (GPU)\n";
  EXPECT_NEAR(last[1], last[0], 1e-3 * std::fabs(last[0]));
  fs::remove_all(dir);
}

} // namespace
