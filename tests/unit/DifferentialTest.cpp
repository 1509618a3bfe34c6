//===- DifferentialTest.cpp - compiled steps against the f64 oracle -------===//
//
// The differential checks of tools/kiln-fuzz-graphs in every test run:
// a fixed set of generated graphs, every shrunk graph a longer run found
// (tests/differential, one file per bug), and the shipped models at batch
// sizes 1, 2, 3 and 5 (a batch of one once trained nothing: the fused
// one_hot ran along its class axis). Fused and unfused, 1 and 2 threads,
// against the reference evaluator (DifferentialCheck.h).
//
//===----------------------------------------------------------------------===//
#include "DifferentialCheck.h"
#include "GraphGenerator.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <unistd.h>

using namespace kiln::fuzz;
namespace fs = std::filesystem;

namespace {

void expectPass(const CheckResult &r, const std::string &what) {
  EXPECT_EQ(r.status, CheckResult::Pass) << what << ": " << statusName(r.status) << ": "
                                         << r.message;
  std::cout << "[differential] " << what << ": worst error " << r.worst
            << " of tolerance, longest reduction " << r.longestReduction << "\n";
}

CheckOptions withPtx() {
  CheckOptions o;
  o.ptx = true;
  o.ptxas = KILN_PTXAS;
  return o;
}

class GeneratedGraph : public ::testing::TestWithParam<int> {};

TEST_P(GeneratedGraph, MatchesReference) {
  std::string path = fs::temp_directory_path() /
                     ("kiln-generated-" + std::to_string(::getpid()) + ".json");
  std::ofstream(path) << generateGraph(GetParam(), {}).dump(1);
  expectPass(checkGraph(path, withPtx()), "seed " + std::to_string(GetParam()));
  fs::remove(path);
}

INSTANTIATE_TEST_SUITE_P(FixedSeeds, GeneratedGraph, ::testing::Range(1, 41));

std::vector<std::string> regressionGraphs() {
  std::vector<std::string> files;
  for (const auto &e : fs::directory_iterator(std::string(KILN_SOURCE_DIR) + "/tests/differential"))
    if (e.path().extension() == ".json")
      files.push_back(e.path().stem().string());
  std::sort(files.begin(), files.end());
  return files;
}

class RegressionGraph : public ::testing::TestWithParam<std::string> {};

TEST_P(RegressionGraph, MatchesReference) {
  expectPass(checkGraph(std::string(KILN_SOURCE_DIR) + "/tests/differential/" + GetParam() + ".json",
                        withPtx()),
             GetParam());
}

INSTANTIATE_TEST_SUITE_P(Shrunk, RegressionGraph, ::testing::ValuesIn(regressionGraphs()),
                         [](const auto &info) {
                           std::string n = info.param;
                           std::replace(n.begin(), n.end(), '-', '_');
                           return n;
                         });

/// A shipped model at a batch size: the update is the gradient (plain SGD,
/// lr 1), so every gradient is compared. Fused only (compiling a ViT step
/// takes seconds; the unfused kernels are the generated graphs' business).
class ShippedModel : public ::testing::TestWithParam<std::tuple<const char *, int>> {};

TEST_P(ShippedModel, MatchesReferenceAtBatchSize) {
  auto [model, batch] = GetParam();
  CheckOptions o;
  o.batchSize = batch;
  o.plainSgd = true;
  o.threads = {2};
  o.unfused = false;
  expectPass(checkGraph(std::string(KILN_SOURCE_DIR) + "/models/vit-fm-" + model + ".json", o),
             std::string(model) + " at batch " + std::to_string(batch));
}

// The distillation model needs a trained teacher to compile (init_from).
INSTANTIATE_TEST_SUITE_P(EveryObjective, ShippedModel,
                         ::testing::Combine(::testing::Values("sup", "sd", "mtl", "dino"),
                                            ::testing::Values(1, 2, 3, 5)),
                         [](const auto &info) {
                           return std::string(std::get<0>(info.param)) + "_batch" +
                                  std::to_string(std::get<1>(info.param));
                         });

/// Shipped models where every axis that can be 1 is: one head, one
/// class, one local crop, K = 1 (each once mistaken for another axis is a
/// wrong kernel, not an error).
struct Edge {
  const char *name, *model;
  int batch;
  std::vector<std::pair<std::string, nlohmann::json>> edits;
};

class ShippedModelEdge : public ::testing::TestWithParam<Edge> {};

TEST_P(ShippedModelEdge, MatchesReference) {
  const Edge &e = GetParam();
  CheckOptions o;
  o.batchSize = e.batch;
  o.plainSgd = true;
  o.threads = {2};
  o.unfused = false;
  o.edits = e.edits;
  expectPass(checkGraph(std::string(KILN_SOURCE_DIR) + "/models/vit-fm-" + e.model + ".json", o),
             e.name);
}

INSTANTIATE_TEST_SUITE_P(
    EveryObjective, ShippedModelEdge,
    ::testing::Values(
        Edge{"sup_one_head_one_class", "sup", 1,
             {{"/networks/net/args", {{"heads", 1}, {"depth", 1}, {"classes", 1}}},
              {"/objective/nodes/1/args/classes", 1}}},
        Edge{"dino_one_local_crop", "dino", 1, {{"/args/n_local", 1}, {"/args/K", 3}}},
        Edge{"dino_k_one", "dino", 2, {{"/args/K", 1}, {"/args/n_local", 0}}}),
    [](const auto &info) { return std::string(info.param.name); });

} // namespace
