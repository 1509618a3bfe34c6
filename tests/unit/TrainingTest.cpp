//===- TrainingTest.cpp - a short real training run --------------------------===//
//
// The shipped supervised ViT (batch 64), compiled and trained by the
// runtime for 2 epochs on an 8,000-image subset of Fashion-MNIST: the loss
// must fall and test accuracy on 2,000 test images must beat chance (10%)
// by a wide margin. Skipped, with the reason, when the dataset package is
// not installed.
//
//===----------------------------------------------------------------------===//
#include "StepTestUtils.h"

#include "compiler/Artifact/ArtifactWriter.h"
#include "runtime/train/Trainer.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <unistd.h>

using namespace kiln;
namespace fs = std::filesystem;

namespace {

std::shared_ptr<const data::Source> subset(const std::shared_ptr<const data::Source> &s, int64_t n) {
  auto out = std::make_shared<data::ArraySource>(static_cast<const data::ArraySource &>(*s));
  out->images.resize(n * out->height * out->width * out->channels);
  out->labels.resize(n);
  return out;
}

TEST(Training, SupervisedViTLearnsFashionMnistSubset) {
  data::Dataset full;
  std::string error;
  if (!data::loadIdxDataset(data::kFashionMnistDir, full, error))
    GTEST_SKIP() << "Fashion-MNIST is not installed: " << error;
  data::Dataset small{subset(full.train, 8000), subset(full.test, 2000), "idx"};

  std::ifstream in(std::string(KILN_SOURCE_DIR) + "/models/vit-fm-sup.json");
  nlohmann::json g = nlohmann::json::parse(in);
  g["train"]["batch_size"] = 64;
  g["train"]["eval"]["batch_size"] = 500;
  auto module = test::importText(g.dump(), "lower");
  ASSERT_TRUE(module);
  std::string dir = fs::temp_directory_path() / ("kiln-sup-" + std::to_string(::getpid()) + ".kiln");
  ASSERT_TRUE(writeArtifact(*module, dir, {}, error)) << error;
  auto exec = Executor::load(dir, 2, error);
  ASSERT_TRUE(exec) << error;

  TrainOptions options;
  options.epochs = 2;
  options.runDir = dir + "-run";
  options.quiet = true;
  TrainResult result;
  ASSERT_TRUE(train(*exec, small, options, result, error)) << error;
  std::cout << "[training] " << result.steps << " steps, loss " << result.firstLoss << " -> "
            << result.lastLoss << ", test accuracy " << result.testAccuracy << "\n";
  EXPECT_EQ(result.steps, 2 * 8000 / 64);
  EXPECT_LT(result.lastLoss, 0.7 * result.firstLoss);
  EXPECT_GT(result.testAccuracy, 0.3); // chance is 0.1
  // What a person looks at: a metrics line per log interval and a plot.
  EXPECT_TRUE(fs::exists(options.runDir + "/metrics.jsonl"));
  EXPECT_TRUE(fs::exists(options.runDir + "/plot.svg"));
  fs::remove_all(dir);
  fs::remove_all(options.runDir);
}

} // namespace
