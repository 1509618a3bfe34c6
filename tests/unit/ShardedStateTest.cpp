//===- ShardedStateTest.cpp - the sharded optimizer's ops at one rank -----===//
//
// At one rank a chunk is the whole tensor, flattened: a momentum step
// written with kiln.reduce_scatter, kiln.shard, a sharded kiln.state and
// kiln.all_gather must give the reference evaluator's results of the same
// step on whole tensors, exactly.
//
//===----------------------------------------------------------------------===//
#include "StepTestUtils.h"

#include "mlir/Parser/Parser.h"

#include <gtest/gtest.h>

using namespace mlir;
using namespace kiln;

namespace {

OwningOpRef<ModuleOp> parse(const std::string &text) {
  OwningOpRef<ModuleOp> module = parseSourceString<ModuleOp>(text, &test::context());
  EXPECT_TRUE(module);
  return module;
}

// m' = 0.9·m + g, w' = w - 0.1·m' for a 3x4 weight and its gradient g.
const char *kWhole = R"(
func.func @objective() {
  %w = kiln.param "w" {init = {kind = "zeros"}} : tensor<3x4xf32>
  %g = kiln.input "g" : tensor<3x4xf32>
  %m = kiln.state "optimizer.m.w" {init = {kind = "zeros"}} : tensor<3x4xf32>
  %r = kiln.all_reduce %g {bucket = 0 : i64, bytes = 48 : i64, gradients} : tensor<3x4xf32>
  %k = kiln.constant dense<0.9> : tensor<f32>
  %lr = kiln.constant dense<0.1> : tensor<f32>
  %km = kiln.mul %m, %k : tensor<3x4xf32>, tensor<f32>
  %m1 = kiln.add %km, %r : tensor<3x4xf32>, tensor<3x4xf32>
  %d = kiln.mul %m1, %lr : tensor<3x4xf32>, tensor<f32>
  %w1 = kiln.sub %w, %d : tensor<3x4xf32>, tensor<3x4xf32>
  kiln.update_param "w" %w1 : tensor<3x4xf32>
  kiln.update_state "optimizer.m.w" %m1 : tensor<3x4xf32>
  %l = kiln.constant dense<0.0> : tensor<f32>
  kiln.loss %l : tensor<f32>
  return
})";

const char *kSharded = R"(
func.func @objective() {
  %w = kiln.param "w" {init = {kind = "zeros"}} : tensor<3x4xf32>
  %g = kiln.input "g" : tensor<3x4xf32>
  %m = kiln.state "optimizer.m.w" {init = {kind = "zeros"}, shard_of = array<i64: 3, 4>, shards = 1 : i64} : tensor<12xf32>
  %r = kiln.reduce_scatter %g {bucket = 0 : i64, bytes = 48 : i64, ranks = 1 : i64, gradients} : tensor<3x4xf32>
  %wc = kiln.shard %w {ranks = 1 : i64} : tensor<3x4xf32>
  %k = kiln.constant dense<0.9> : tensor<f32>
  %lr = kiln.constant dense<0.1> : tensor<f32>
  %km = kiln.mul %m, %k : tensor<12xf32>, tensor<f32>
  %m1 = kiln.add %km, %r : tensor<12xf32>, tensor<12xf32>
  %d = kiln.mul %m1, %lr : tensor<12xf32>, tensor<f32>
  %w1 = kiln.sub %wc, %d : tensor<12xf32>, tensor<12xf32>
  %wg = kiln.all_gather %w1 {bucket = 1 : i64, bytes = 48 : i64, ranks = 1 : i64} : tensor<12xf32> -> tensor<3x4xf32>
  kiln.update_param "w" %wg : tensor<3x4xf32>
  kiln.update_state "optimizer.m.w" %m1 : tensor<12xf32>
  %l = kiln.constant dense<0.0> : tensor<f32>
  kiln.loss %l : tensor<f32>
  return
})";

TEST(ShardedState, OneRankStepIsTheWholeStep) {
  OwningOpRef<ModuleOp> whole = parse(kWhole), sharded = parse(kSharded);
  ASSERT_TRUE(whole && sharded);
  std::mt19937 rng(3);
  StepBindings bindings = test::randomBindings(*whole, rng);
  StepResults want = test::evaluate(*whole, bindings), got = test::evaluate(*sharded, bindings);
  EXPECT_EQ(got.params.at("w").shape, want.params.at("w").shape);
  EXPECT_EQ(got.params.at("w").data, want.params.at("w").data);
  EXPECT_EQ(got.state.at("optimizer.m.w").shape, std::vector<int64_t>{12});
  EXPECT_EQ(got.state.at("optimizer.m.w").data, want.state.at("optimizer.m.w").data);
}

// Two ranks' chunks are not one rank's view: the evaluator refuses them.
TEST(ShardedState, EvaluatorRunsOneRankOnly) {
  OwningOpRef<ModuleOp> twoRanks = parse(R"(
func.func @objective() {
  %w = kiln.param "w" {init = {kind = "zeros"}} : tensor<3x4xf32>
  %wc = kiln.shard %w {ranks = 2 : i64} : tensor<3x4xf32>
  kiln.output "chunk" %wc : tensor<6xf32>
  %l = kiln.constant dense<0.0> : tensor<f32>
  kiln.loss %l : tensor<f32>
  return
})");
  ASSERT_TRUE(twoRanks);
  std::mt19937 rng(3);
  StepBindings bindings = test::randomBindings(*twoRanks, rng);
  EXPECT_TRUE(failed(evaluateStep(test::stepOf(*twoRanks), bindings)));
}

} // namespace
