//===- ImporterTest.cpp - shipped models and the malformed corpus ---------===//
//
// Every graph in models/ imports and passes kiln-verify-step. Every graph in
// tests/malformed/ fails with the message in its .expected file: first line
// "LINE:COL", then lines that must each appear in the error.
//
//===----------------------------------------------------------------------===//
#include "Kiln/IR/KilnLocations.h"
#include "Kiln/IR/KilnOps.h"
#include "compiler/Import/GraphImporter.h"
#include "compiler/Pipeline/Phases.h"
#include "compiler/Pipeline/Registration.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Pass/PassManager.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

namespace fs = std::filesystem;

namespace {

struct ImportResult {
  bool ok;
  std::string diagnostics; // "file:line:col: message" per diagnostic
};

/// Imports `path` and runs every phase, collecting the diagnostics.
ImportResult importAndVerify(const std::string &path) {
  mlir::DialectRegistry registry;
  kiln::registerKilnDialects(registry);
  mlir::MLIRContext context(registry);
  std::string out;
  mlir::ScopedDiagnosticHandler handler(&context, [&](mlir::Diagnostic &d) {
    mlir::Location loc = kiln::nodeLocation(d.getLocation());
    if (auto name = mlir::dyn_cast<mlir::NameLoc>(loc))
      loc = name.getChildLoc();
    if (auto file = mlir::dyn_cast<mlir::FileLineColLoc>(loc))
      out += std::to_string(file.getLine()) + ":" +
             std::to_string(file.getColumn()) + ": ";
    out += d.str() + "\n";
    for (mlir::Location call : kiln::callersOf(d.getLocation()))
      if (auto name = mlir::dyn_cast<mlir::NameLoc>(call))
        if (auto file = mlir::dyn_cast<mlir::FileLineColLoc>(name.getChildLoc()))
          out += "  called at " + file.getFilename().str() + ":" +
                 std::to_string(file.getLine()) + ":" + std::to_string(file.getColumn()) +
                 " (module '" + name.getName().str() + "')\n";
    return mlir::success();
  });
  auto module = kiln::importGraph(context, path);
  if (!module)
    return {false, out};
  if (mlir::failed(kiln::runPhases(*module, kiln::PipelineOptions(), &kiln::kilnPhases().back())))
    return {false, out};
  return {true, out};
}

std::vector<std::string> filesIn(const std::string &dir, const std::string &ext) {
  std::vector<std::string> files;
  for (auto &entry : fs::directory_iterator(dir))
    if (entry.path().extension() == ext)
      files.push_back(entry.path().string());
  std::sort(files.begin(), files.end());
  return files;
}

TEST(Importer, ShippedModelsImportAndVerify) {
  auto models = filesIn(KILN_SOURCE_DIR "/models", ".json");
  ASSERT_FALSE(models.empty());
  for (const std::string &model : models) {
    ImportResult r = importAndVerify(model);
    EXPECT_TRUE(r.ok) << model << ":\n" << r.diagnostics;
  }
}

// ref.py's SupNet has 205,066 parameters (perf-baseline.md); the graph's
// kiln.param ops must add up to the same, with PyTorch's names.
TEST(Importer, SupervisedVitMatchesTheReferenceModel) {
  mlir::DialectRegistry registry;
  kiln::registerKilnDialects(registry);
  mlir::MLIRContext context(registry);
  auto module = kiln::importGraph(context, KILN_SOURCE_DIR "/models/vit-fm-sup.json");
  ASSERT_TRUE(module);
  int64_t total = 0;
  std::vector<std::string> names;
  // The training step (the evaluation entry reads the same parameters).
  auto step = module->lookupSymbol<mlir::func::FuncOp>("objective");
  ASSERT_TRUE(step);
  step.walk([&](kiln::ParamOp p) {
    total += p.getType().getNumElements();
    names.push_back(p.getName().str());
  });
  EXPECT_EQ(total, 205066);
  EXPECT_EQ(names.size(), 56u);
  for (const char *name : {"net.backbone.patch_embed.weight", "net.backbone.cls_token",
                           "net.backbone.blocks.3.mlp.fc2.bias",
                           "net.backbone.norm.weight", "net.head.weight"})
    EXPECT_NE(std::find(names.begin(), names.end(), name), names.end()) << name;
}

class MalformedGraph : public testing::TestWithParam<std::string> {};

TEST_P(MalformedGraph, FailsWithItsMessage) {
  std::string path = GetParam();
  std::ifstream expectedFile(fs::path(path).replace_extension(".expected"));
  ASSERT_TRUE(expectedFile) << "no .expected file beside " << path;
  std::vector<std::string> expected;
  for (std::string line; std::getline(expectedFile, line);)
    if (!line.empty())
      expected.push_back(line);
  ASSERT_GE(expected.size(), 2u) << "need LINE:COL and a message";

  ImportResult r = importAndVerify(path);
  EXPECT_FALSE(r.ok);
  // The first diagnostic is the error; later lines are notes.
  std::string first = r.diagnostics.substr(0, r.diagnostics.find('\n'));
  EXPECT_EQ(first.rfind(expected[0] + ": ", 0), 0u)
      << "expected the error at " << expected[0] << ", got: " << first;
  for (size_t i = 1; i < expected.size(); ++i)
    EXPECT_NE(r.diagnostics.find(expected[i]), std::string::npos)
        << "missing \"" << expected[i] << "\" in:\n" << r.diagnostics;
}

INSTANTIATE_TEST_SUITE_P(
    Corpus, MalformedGraph,
    testing::ValuesIn(filesIn(KILN_SOURCE_DIR "/tests/malformed", ".json")),
    [](const testing::TestParamInfo<std::string> &info) {
      std::string name = fs::path(info.param).stem().string();
      for (char &c : name)
        if (!isalnum((unsigned char)c))
          c = '_';
      return name;
    });

TEST(Importer, CorpusIsLargeEnough) {
  EXPECT_GE(filesIn(KILN_SOURCE_DIR "/tests/malformed", ".json").size(), 25u);
}

} // namespace
