//===- ScheduleTest.cpp - schedules against the reference values ----------===//
//
// Expected values come from DINO's utils.cosine_scheduler and DINOLoss's
// teacher-temperature schedule as ../shared/reference/objectives.md gives
// them (the test vector and the momentum endpoints), or from numpy's
// linspace evaluated by hand.
//
//===----------------------------------------------------------------------===//
#include "runtime/train/Schedule.h"

#include <gtest/gtest.h>

#include <vector>

namespace {

using nlohmann::json;
using kiln::ScheduleClock;

std::vector<double> perIteration(const json &spec, int64_t epochs, int64_t niter,
                                 int64_t globalBatch = 256) {
  EXPECT_EQ(kiln::checkSchedule(spec), "");
  std::vector<double> out;
  for (int64_t it = 0; it < epochs * niter; ++it)
    out.push_back(kiln::evaluateSchedule(
        spec, ScheduleClock{it, it / niter, niter, epochs, globalBatch}));
  return out;
}

TEST(Schedule, DinoCosineSchedulerTestVector) {
  // cosine_scheduler(1, 0, epochs=3, niter=2, warmup_epochs=1)
  json spec = {{"kind", "warmup_cosine"}, {"base", 1}, {"final", 0}, {"warmup_epochs", 1}};
  std::vector<double> expected = {0, 1, 1, 0.85355339, 0.5, 0.14644661};
  std::vector<double> got = perIteration(spec, 3, 2);
  ASSERT_EQ(got.size(), expected.size());
  for (size_t i = 0; i < got.size(); ++i)
    EXPECT_NEAR(got[i], expected[i], 1e-8) << "iteration " << i;
}

TEST(Schedule, TeacherMomentumEndpoints) {
  // cosine_scheduler(0.996, 1, ...) over 100 iterations
  json spec = {{"kind", "warmup_cosine"}, {"base", 0.996}, {"final", 1.0}};
  std::vector<double> got = perIteration(spec, 4, 25);
  EXPECT_DOUBLE_EQ(got.front(), 0.996);
  EXPECT_NEAR(got.back(), 0.999999013, 1e-9);
}

TEST(Schedule, LrScalesWithGlobalBatchButFinalDoesNot) {
  // DINO: base = lr * B_global / 256, min_lr unscaled.
  json spec = {{"kind", "warmup_cosine"}, {"base", 5e-4}, {"final", 1e-6},
               {"scale_with_batch", true}};
  std::vector<double> got = perIteration(spec, 1, 4, 512);
  EXPECT_DOUBLE_EQ(got[0], 1e-3);
  // i = 2 of n = 4: cos(π/2) = 0, halfway between base and final.
  EXPECT_NEAR(got[2], 1e-6 + 0.5 * (1e-3 - 1e-6), 1e-15);
}

TEST(Schedule, TeacherTemperaturePerEpoch) {
  // concat(linspace(0.04, 0.07, 3), ones(nepochs - 3) * 0.07)
  json spec = {{"kind", "epoch_linear_warmup"}, {"start", 0.04}, {"end", 0.07},
               {"warmup_epochs", 3}};
  std::vector<double> expected = {0.04, 0.055, 0.07, 0.07, 0.07};
  for (int64_t e = 0; e < 5; ++e)
    EXPECT_NEAR(kiln::evaluateSchedule(spec, ScheduleClock{e * 10, e, 10, 5, 64}),
                expected[e], 1e-15);
}

// ref.py's DINO: the teacher temperature warms up over max(1, round(0.3 ·
// epochs)) epochs (1 of 3, 3 of 10) and lr over round(0.1 · all iterations).
TEST(Schedule, WarmupAsAFractionOfTheRun) {
  json temp = {{"kind", "epoch_linear_warmup"}, {"start", 0.04}, {"end", 0.07},
               {"warmup_fraction", 0.3}};
  EXPECT_NEAR(kiln::evaluateSchedule(temp, ScheduleClock{0, 0, 10, 3, 128}), 0.04, 1e-15);
  EXPECT_NEAR(kiln::evaluateSchedule(temp, ScheduleClock{10, 1, 10, 3, 128}), 0.07, 1e-15);
  EXPECT_NEAR(kiln::evaluateSchedule(temp, ScheduleClock{10, 1, 10, 10, 128}), 0.055, 1e-15);
  EXPECT_NEAR(kiln::evaluateSchedule(temp, ScheduleClock{30, 3, 10, 10, 128}), 0.07, 1e-15);
  json lr = {{"kind", "warmup_cosine"}, {"base", 1.0}, {"final", 0.0}, {"warmup_fraction", 0.1}};
  // 3 epochs of 468: round(140.4) = 140 warmup iterations, linspace(0, 1, 140).
  EXPECT_NEAR(kiln::evaluateSchedule(lr, ScheduleClock{139, 0, 468, 3, 256}), 1.0, 1e-15);
  EXPECT_NEAR(kiln::evaluateSchedule(lr, ScheduleClock{70, 0, 468, 3, 256}), 70.0 / 139, 1e-15);
  EXPECT_NE(kiln::checkSchedule(json{{"kind", "epoch_linear_warmup"}, {"start", 0}, {"end", 1}})
                .find("needs one of 'warmup_epochs' and 'warmup_fraction'"),
            std::string::npos);
}

TEST(Schedule, ConstantAndFromEpoch) {
  json constant = {{"kind", "constant"}, {"value", 0.05}};
  json gate = {{"kind", "from_epoch"}, {"epoch", 1}};
  EXPECT_EQ(kiln::evaluateSchedule(constant, ScheduleClock{7, 3, 5, 10, 64}), 0.05);
  EXPECT_EQ(kiln::evaluateSchedule(gate, ScheduleClock{4, 0, 5, 10, 64}), 0.0);
  EXPECT_EQ(kiln::evaluateSchedule(gate, ScheduleClock{5, 1, 5, 10, 64}), 1.0);
}

TEST(Schedule, BadSpecsAreNamed) {
  EXPECT_NE(kiln::checkSchedule(json{{"kind", "cosine"}}).find("unknown schedule kind 'cosine'"),
            std::string::npos);
  EXPECT_NE(kiln::checkSchedule(json{{"kind", "constant"}}).find("needs 'value'"),
            std::string::npos);
  EXPECT_NE(kiln::checkSchedule(json{{"kind", "constant"}, {"value", 1}, {"vaule", 2}})
                .find("takes no key 'vaule'"),
            std::string::npos);
}

} // namespace
