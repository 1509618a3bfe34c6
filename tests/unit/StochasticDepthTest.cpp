//===- StochasticDepthTest.cpp - random thunks are keyed by (seed, step) ---===//
//
// A two-block ViT with drop_path 0.5, compiled: the same train step run
// twice from the same parameters with the same (seed, step) gives the same
// loss bit for bit; another step or seed draws other masks and so another
// loss; two ranks with half the batch each draw the masks world size 1
// draws for those images; and the eval entry (training = 0) has no random
// thunk.
//
//===----------------------------------------------------------------------===//
#include "StepTestUtils.h"

#include "compiler/Artifact/ArtifactWriter.h"
#include "runtime/exec/Executor.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cstring>
#include <filesystem>
#include <random>
#include <unistd.h>

using namespace kiln;

namespace {

/// Rank `rank` of two that never communicate: each all-reduce leaves the
/// rank's own share (its value / 2), so the two shares sum to the mean.
/// A gather gives each rank its own value twice.
class UnconnectedPair final : public Collectives {
public:
  explicit UnconnectedPair(int rank) : Collectives(World{rank, 2, rank, 1, "test"}, 1) {}
  void startAllReduce(int64_t, DType, void *, int64_t) override {}
  void startReduceScatter(int64_t, DType, void *, int64_t) override {}
  void startAllGather(int64_t, DType, void *, int64_t) override {}
  void wait(int64_t) override {}
  void allGatherBytes(void *data, int64_t bytes) override { // the other block: a copy of ours
    auto *blocks = static_cast<char *>(data);
    std::memcpy(blocks + (1 - world_.rank) * bytes, blocks + world_.rank * bytes, bytes);
  }
  void allReduceSum(double *, int64_t) override {}
  [[noreturn]] void fail(const std::string &message) override {
    ADD_FAILURE() << message;
    std::abort();
  }
};

std::unique_ptr<Executor> compileDropPath(int64_t batch, std::string &dir) {
  nlohmann::json g = {
      {"kiln", 1},
      {"name", "drop-path"},
      {"imports", {"lib/vit.json", "lib/losses.json"}},
      {"data", {{"dataset", "fashion-mnist"}}},
      {"networks", {{"net", {{"module", "vit_fm"}, {"args", {{"img", 8}, {"dim", 8}, {"depth", 2},
                                                            {"heads", 2}, {"drop_path", 0.5}}}}}}},
      {"objective",
       {{"inputs", {{"x", {{"shape", {"batch", 1, 8, 8}}, {"source", "random"}}}}},
        {"nodes", {{{"id", "f"}, {"op", "call"}, {"network", "net"}, {"in", {"x"}}},
                   {{"id", "sq"}, {"op", "mul"}, {"in", {"f", "f"}}},
                   {{"id", "loss"}, {"op", "mean"}, {"in", {"sq"}}, {"axes", {0, 1}}}}},
        {"loss", "loss"}}},
      {"optimizer", {{"kind", "sgd"}, {"lr", 0.1}}},
      {"train", {{"epochs", 1}, {"batch_size", batch}, {"eval", {{"kind", "accuracy"}, {"network", "net"}}}}}};
  auto module = test::importText(g.dump(), "lower");
  EXPECT_TRUE(module);
  std::string error;
  dir = std::filesystem::temp_directory_path() /
        ("kiln-drop-path-" + std::to_string(::getpid()) + "-" + std::to_string(batch) + ".kiln");
  EXPECT_TRUE(module && writeArtifact(*module, dir, {}, error)) << error;
  auto exec = Executor::load(dir, 1, error);
  EXPECT_TRUE(exec) << error;
  return exec;
}

/// The train step's input, one row of 64 floats per image.
float *input(Executor &exec) {
  for (const auto &in : exec.manifest().inputs)
    if (in.program == "train_step")
      return exec.as<float>(in.buffer);
  return nullptr;
}

} // namespace

TEST(StochasticDepth, MasksFollowSeedAndStepAtAnyWorldSize) {
  std::string dir, halfDir, error;
  auto exec = compileDropPath(16, dir), half = compileDropPath(8, halfDir);
  ASSERT_TRUE(exec && half);
  const Manifest &m = exec->manifest();
  int step = exec->program("train_step");
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> u(-1, 1);
  std::vector<float> x(16 * 64);
  for (float &v : x)
    v = u(rng);
  TensorMap start = exec->tensors("param");
  auto lossAt = [&](Executor &e, uint64_t seed, uint64_t stepIndex, const float *rows) {
    EXPECT_TRUE(e.setTensors(start, "param", "start", error)) << error;
    std::copy(rows, rows + e.manifest().batchSize * 64, input(e));
    e.randomKey = {seed, stepIndex};
    int program = e.program("train_step");
    e.run(program);
    return *e.as<float>(e.sinkBuffer(program, "loss", "loss"));
  };
  float a = lossAt(*exec, 0, 7, x.data());
  EXPECT_EQ(a, lossAt(*exec, 0, 7, x.data()));
  EXPECT_NE(a, lossAt(*exec, 0, 8, x.data()));
  EXPECT_NE(a, lossAt(*exec, 1, 7, x.data()));

  // Ranks 0 and 1 of two, images 0-7 and 8-15: the same masks, so their
  // shares of the loss add up to world size 1's loss.
  float shares = 0;
  for (int rank : {0, 1}) {
    UnconnectedPair pair(rank);
    half->comm = &pair;
    shares += lossAt(*half, 0, 7, x.data() + rank * 8 * 64);
    half->comm = nullptr;
  }
  EXPECT_NEAR(shares, a, 1e-6 * std::abs(a));

  int randomThunks = 0, evalRandom = 0;
  for (const Thunk &t : m.compiled.programs[step].thunks)
    randomThunks += t.is<RandomFill>();
  for (const Thunk &t : m.compiled.programs[exec->program("eval")].thunks)
    evalRandom += t.is<RandomFill>();
  EXPECT_EQ(randomThunks, 2); // block 1's two residual branches (block 0's rate is 0)
  EXPECT_EQ(evalRandom, 0);
  std::filesystem::remove_all(dir);
  std::filesystem::remove_all(halfDir);
}
