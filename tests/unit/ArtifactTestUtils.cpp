//===- ArtifactTestUtils.cpp - artifacts and batches for runtime tests ----===//
#include "ArtifactTestUtils.h"
#include "StepTestUtils.h"

#include "runtime/data/Loader.h"
#include "runtime/train/Trainer.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <unistd.h>

namespace kiln::test {

std::string compileArtifact(const std::string &path, const nlohmann::json &train,
                            const ArtifactOptions &options, std::string &error,
                            const nlohmann::json &patch) {
  nlohmann::json g = nlohmann::json::parse(shippedGraphText(path));
  g["train"].update(train);
  if (!patch.is_null())
    g.merge_patch(patch);
  auto module = importText(g.dump(), "lower");
  static int count = 0;
  std::string dir = std::filesystem::temp_directory_path() /
                    ("kiln-" + std::filesystem::path(path).stem().string() + "-" +
                     std::to_string(::getpid()) + "-" + std::to_string(count++) + ".kiln");
  if (!module || !writeArtifact(*module, dir, options, error)) {
    error = path + ": " + error;
    return "";
  }
  return dir;
}

void feedFirstBatch(Executor &exec, const data::Dataset &dataset) {
  const Manifest &m = exec.manifest();
  StepInputs inputs;
  std::string error;
  ASSERT_TRUE(stepInputs(m, inputs, error)) << error;
  data::LoaderOptions options;
  options.seed = 1;
  auto loader = data::makeTrainLoader(dataset, inputs.views, m.batchSize, options, error);
  ASSERT_TRUE(loader) << error;
  feedBatch(exec, inputs, loader->get(0, 0));
  setSchedules(exec, {0, 0, loader->stepsPerEpoch(), 1, m.batchSize});
}

} // namespace kiln::test
