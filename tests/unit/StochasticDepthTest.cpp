//===- StochasticDepthTest.cpp - random thunks are keyed by (seed, step) ---===//
//
// A two-block ViT with drop_path 0.5, compiled: the same train step run
// twice from the same parameters with the same (seed, rank, step) gives the
// same loss bit for bit; another step or rank draws other masks and so
// another loss; and the eval entry (training = 0) has no random thunk.
//
//===----------------------------------------------------------------------===//
#include "StepTestUtils.h"

#include "compiler/Artifact/ArtifactWriter.h"
#include "runtime/exec/Executor.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <random>
#include <unistd.h>

using namespace kiln;

TEST(StochasticDepth, MasksFollowSeedRankAndStep) {
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
      {"train", {{"epochs", 1}, {"batch_size", 16}, {"eval", {{"kind", "accuracy"}, {"network", "net"}}}}}};
  auto module = test::importText(g.dump(), "fuse");
  ASSERT_TRUE(module);
  std::string error, dir = std::filesystem::temp_directory_path() /
                           ("kiln-drop-path-" + std::to_string(::getpid()) + ".kiln");
  ASSERT_TRUE(writeArtifact(*module, dir, {}, error)) << error;
  auto exec = Executor::load(dir, 1, error);
  ASSERT_TRUE(exec) << error;
  const Manifest &m = exec->manifest();
  int step = exec->program("train_step");
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> u(-1, 1);
  for (const auto &in : m.inputs)
    if (in.program == "train_step")
      for (int64_t i = 0; i < m.compiled.buffers[in.buffer].bytes / 4; ++i)
        exec->as<float>(in.buffer)[i] = u(rng);
  TensorMap start = exec->tensors("param");
  auto lossAt = [&](uint64_t seed, uint64_t rank, uint64_t stepIndex) {
    EXPECT_TRUE(exec->setTensors(start, "param", "start", error)) << error;
    exec->randomKey = {seed, rank, stepIndex};
    exec->run(step);
    return *exec->as<float>(exec->sinkBuffer(step, "loss", "loss"));
  };
  float a = lossAt(0, 0, 7);
  EXPECT_EQ(a, lossAt(0, 0, 7));
  EXPECT_NE(a, lossAt(0, 0, 8));
  EXPECT_NE(a, lossAt(0, 1, 7));
  EXPECT_NE(a, lossAt(1, 0, 7));
  int randomThunks = 0, evalRandom = 0;
  for (const Thunk &t : m.compiled.programs[step].thunks)
    randomThunks += t.kind == Thunk::Random;
  for (const Thunk &t : m.compiled.programs[exec->program("eval")].thunks)
    evalRandom += t.kind == Thunk::Random;
  EXPECT_EQ(randomThunks, 2); // block 1's two residual branches (block 0's rate is 0)
  EXPECT_EQ(evalRandom, 0);
  std::filesystem::remove_all(dir);
}
