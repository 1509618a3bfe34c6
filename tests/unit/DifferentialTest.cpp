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
#include "GraphShrinker.h"

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

/// PTX too where the CUDA toolkit is (as PtxTest: without ptxas there is
/// nothing to assemble it with, nor libdevice to build it).
CheckOptions withPtx() {
  CheckOptions o;
  o.ptxas = KILN_PTXAS;
  o.ptx = !o.ptxas.empty();
  return o;
}

/// The PTX step runs: an assembler that refuses everything is reported.
TEST(Differential, ReportsPtxTheAssemblerRejects) {
  if (std::string(KILN_PTXAS).empty())
    GTEST_SKIP() << "no ptxas (the CUDA toolkit) on this machine: PTX is not checked";
  CheckOptions o = withPtx();
  o.ptxas = "/bin/false";
  CheckResult r = checkGraph(std::string(KILN_SOURCE_DIR) + "/tests/differential/one-hot-batch-of-one.json", o);
  EXPECT_EQ(r.status, CheckResult::CompileError) << r.message;
  EXPECT_NE(r.message.find("ptxas sm_80 rejects"), std::string::npos) << r.message;
}

/// The same seed gives the same graph; a cap bounds every drawn size.
TEST(GraphGenerator, IsDeterministicAndCapsSizes) {
  for (uint64_t seed : {3, 4, 5}) {
    EXPECT_EQ(generateGraph(seed, {}), generateGraph(seed, {}));
    GeneratorOptions small;
    small.dimCap = 2;
    auto g = generateGraph(seed, small);
    // x0's sizes are drawn (later values grow by padding and concatenation).
    for (auto &d : g["objective"]["inputs"]["x0"]["shape"])
      if (d.is_number())
        EXPECT_LE(d.get<int64_t>(), 2);
    EXPECT_LE(g["train"]["batch_size"].get<int64_t>(), 2);
  }
}

/// With a failure that needs only a one_hot of the labels, the shrinker
/// removes everything else: loss terms, metrics, parameters, inputs.
TEST(GraphShrinker, KeepsOnlyWhatTheFailureNeeds) {
  auto readsLabels = [](const nlohmann::ordered_json &g) {
    for (const auto &n : g["objective"]["nodes"])
      if (n["op"] == "one_hot" && n["in"][0] == "label")
        return true;
    return false;
  };
  uint64_t seed = 1;
  while (!readsLabels(generateGraph(seed, {})))
    ++seed;
  auto g = generateGraph(seed, {});
  int checks = 0;
  auto minimal = shrinkGraph(g, [&](const nlohmann::ordered_json &c) {
    ++checks;
    return readsLabels(c);
  });
  ASSERT_EQ(minimal["objective"]["nodes"].size(), 1u) << minimal.dump(1);
  EXPECT_EQ(minimal["objective"]["nodes"][0]["op"], "one_hot");
  EXPECT_EQ(minimal["objective"]["loss"], minimal["objective"]["nodes"][0]["id"]);
  EXPECT_FALSE(minimal["objective"].contains("metrics"));
  EXPECT_TRUE(minimal["modules"]["weights"]["params"].empty());
  EXPECT_EQ(minimal["objective"]["inputs"].size(), 1u); // the labels
  std::cout << "[shrinker] seed " << seed << ": " << g["objective"]["nodes"].size() << " nodes to 1 in "
            << checks << " checks\n";
}

class GeneratedGraph : public ::testing::TestWithParam<int> {};

TEST_P(GeneratedGraph, MatchesReference) {
  std::string path = fs::temp_directory_path() /
                     ("kiln-generated-" + std::to_string(::getpid()) + ".json");
  std::ofstream(path) << generateGraph(GetParam(), {}).dump(1);
  expectPass(checkGraph(path, withPtx()), "seed " + std::to_string(GetParam()));
  fs::remove(path);
}

INSTANTIATE_TEST_SUITE_P(FixedSeeds, GeneratedGraph, ::testing::Range(1, 26));

/// The generated graphs of those seeds that have GEMMs, in bf16 and in
/// fp16 (with the loss scaling the compiler inserts): the oracle runs the
/// step after kiln-assign-precision and rounds each low result as the
/// kernels do, so the f32 tolerance holds (a value that the two round to
/// neighbouring low numbers near a tie would exceed it; none does in these
/// graphs, fused or not, on the CPU or through ptxas).
class GeneratedGraphInLowPrecision
    : public ::testing::TestWithParam<std::tuple<int, std::string>> {};

TEST_P(GeneratedGraphInLowPrecision, MatchesReference) {
  auto [seed, precision] = GetParam();
  std::string path = fs::temp_directory_path() / ("kiln-generated-" + precision + "-" +
                                                  std::to_string(::getpid()) + ".json");
  std::ofstream(path) << generateGraph(seed, {}).dump(1);
  CheckOptions o = withPtx();
  o.precision = precision;
  expectPass(checkGraph(path, o), "seed " + std::to_string(seed) + " in " + precision);
  fs::remove(path);
}

INSTANTIATE_TEST_SUITE_P(SeedsWithGemms, GeneratedGraphInLowPrecision,
                         ::testing::Combine(::testing::Values(2, 3, 6, 7, 11, 13, 19, 20, 24, 25),
                                            ::testing::Values("bf16", "fp16")));

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

using Edits = std::vector<std::pair<std::string, nlohmann::json>>;

/// models/vit-fm-MODEL.json at a batch size, with `edits`: the update is
/// the gradient (plain SGD, lr 1), so every gradient is compared. Fused
/// only (compiling a ViT step takes seconds; the unfused kernels are the
/// generated graphs' business).
void expectShippedModelPasses(const std::string &model, int batch, const Edits &edits,
                              const std::string &what) {
  CheckOptions o;
  o.batchSize = batch;
  o.plainSgd = true;
  o.threads = {2};
  o.unfused = false;
  o.edits = edits;
  expectPass(checkGraph(std::string(KILN_SOURCE_DIR) + "/models/vit-fm-" + model + ".json", o), what);
}

class ShippedModel : public ::testing::TestWithParam<std::tuple<const char *, int>> {};

TEST_P(ShippedModel, MatchesReferenceAtBatchSize) {
  auto [model, batch] = GetParam();
  // The distillation teacher starts from its initializers, not a trained run.
  Edits edits;
  if (std::string(model) == "kd")
    edits = {{"/networks/teacher/init_from", nullptr}, {"/networks/teacher/init_prefix", nullptr}};
  expectShippedModelPasses(model, batch, edits,
                           std::string(model) + " at batch " + std::to_string(batch));
}

INSTANTIATE_TEST_SUITE_P(EveryObjective, ShippedModel,
                         ::testing::Combine(::testing::Values("sup", "sd", "mtl", "dino", "kd"),
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
  Edits edits;
};

/// DINO with K outputs and `local` local crops (the head's K is the
/// networks' argument, the centre's the graph's).
Edits dinoEdits(int k, int local) {
  return {{"/args/K", k},
          {"/args/n_local", local},
          {"/networks/student/args/K", k},
          {"/networks/teacher/args", {{"K", k}}}};
}

class ShippedModelEdge : public ::testing::TestWithParam<Edge> {};

TEST_P(ShippedModelEdge, MatchesReference) {
  const Edge &e = GetParam();
  expectShippedModelPasses(e.model, e.batch, e.edits, e.name);
}

INSTANTIATE_TEST_SUITE_P(
    EveryObjective, ShippedModelEdge,
    ::testing::Values(
        Edge{"sup_one_head", "sup", 1, {{"/networks/net/args", {{"heads", 1}, {"depth", 1}}}}},
        Edge{"sup_one_class", "sup", 3,
             {{"/networks/net/args", {{"depth", 1}, {"classes", 1}}},
              {"/objective/nodes/1/args/classes", 1}}},
        Edge{"dino_one_local_crop", "dino", 1, dinoEdits(3, 1)},
        Edge{"dino_k_one", "dino", 2, dinoEdits(1, 2)}),
    [](const auto &info) { return std::string(info.param.name); });

} // namespace
