//===- StuckDeviceTest.cpp - a device stuck behind a peer ends the run ----===//
//
// A GPU rank whose stream waits on an all-reduce that another rank never
// joins must end within --comm-timeout, not hang: the CUDA backend's
// synchronize() and its downloads (which wait before they copy) poll
// through waitForDevice (runtime/exec/DeviceWait.h). Shown without a GPU
// by a device whose stream never completes, driven by the executor as a
// training step drives it, on two ranks whose collectives time out in 1 s.
//
//===----------------------------------------------------------------------===//
#include "ArtifactTestUtils.h"

#include "runtime/exec/DeviceWait.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <unistd.h>

using namespace kiln;

namespace {

/// Two ranks' worth of collectives that are never reached by this test's
/// device: only its timeout and fail() matter.
class SilentPeers final : public Collectives {
public:
  SilentPeers() : Collectives(twoRanks(), 1.0) {}
  static World twoRanks() {
    World w;
    w.rank = 0;
    w.size = 2;
    return w;
  }
  void startAllReduce(int64_t, DType, void *, int64_t) override {}
  void startReduceScatter(int64_t, DType, void *, int64_t) override {}
  void startAllGather(int64_t, DType, void *, int64_t) override {}
  void wait(int64_t) override {}
  void progress() override { ++progressed; }
  void allGatherBytes(void *, int64_t) override {}
  void allReduceSum(double *, int64_t) override {}
  [[noreturn]] void fail(const std::string &message) override {
    std::fprintf(stderr, "kiln: rank 0: %s (progress called %s)\n", message.c_str(),
                 progressed > 0 ? "while waiting" : "never");
    std::_Exit(1);
  }
  int64_t progressed = 0;
};

/// A GPU whose compute stream never completes: its first kernel waits on
/// an all-reduce the other rank never joins. Waits as the CUDA backend's.
class StuckDevice final : public DeviceBackend {
public:
  explicit StuckDevice(DeviceHooks hooks) : hooks(std::move(hooks)) {}
  const std::string &description() const override { return name; }
  void upload(Region, int64_t, const void *, int64_t) override {}
  bool stage(Region, int64_t, const void *, int64_t) override { return false; }
  void placeStaged() override {}
  void discardStaged() override {}
  void download(Region, int64_t, void *, int64_t) override { synchronize(); }
  void enqueue(int, size_t, size_t) override {}
  void synchronize() override {
    waitForDevice(*hooks.comm(), [] { return false; }, "the GPU step",
                  "an NCCL all-reduce is stuck (a rank died or stalled)");
  }
  void savePersistent() override {}
  void restorePersistent() override {}
  std::unique_ptr<Collectives> connect(std::unique_ptr<Collectives> host,
                                       std::string &) override {
    return host;
  }

private:
  DeviceHooks hooks;
  std::string name = "a GPU stuck behind a missing rank";
};

TEST(StuckDevice, TheCommTimeoutEndsTheRunInsteadOfAHang) {
  std::string error;
  std::string dir = test::compileArtifact("tests/lit/Tools/Inputs/tiny-classifier.json",
                                          {{"batch_size", 8}}, {}, error);
  ASSERT_FALSE(dir.empty()) << error;
  auto open = [](const std::string &, const Manifest &, int, const uint8_t *, DeviceHooks hooks,
                 std::string &) -> std::unique_ptr<DeviceBackend> {
    return std::make_unique<StuckDevice>(std::move(hooks));
  };
  auto exec = Executor::load(dir, 1, error, 0, open);
  ASSERT_TRUE(exec) << error;
  std::unique_ptr<Collectives> peers = std::make_unique<SilentPeers>();
  ASSERT_TRUE(exec->useCollectives(peers, error)) << error;
  test::feedFirstBatch(*exec, data::syntheticDataset(16, 8, 2));
  int program = exec->program("train_step");
  auto start = std::chrono::steady_clock::now();
  // The step's end brings the loss back: a download, which must wait
  // polled and give up at the 1 s timeout.
  EXPECT_EXIT(exec->run(program), ::testing::ExitedWithCode(1),
              "rank 0: the GPU step did not finish within 1 s: an NCCL all-reduce is stuck "
              "\\(a rank died or stalled\\) \\(progress called while waiting\\)");
  double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_LT(took, 3.0) << "the 1 s timeout did not hold";
  std::filesystem::remove_all(dir);
}

} // namespace
