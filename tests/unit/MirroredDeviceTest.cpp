//===- MirroredDeviceTest.cpp - the executor keeps a device's memory in step ===//
//
// The executor's side of a GPU run (DeviceBackend): what it copies to the
// device before a run, back after it, and when (inputs, schedule values,
// random draws, sinks, parameters for snapshots and evaluation, the saved
// state of the non-finite check), tested without a GPU. The stand-in
// device keeps its memory in a second CPU executor and runs the same CPU
// kernels there, so training through it must give, bit for bit, what the
// CPU gives; a copy missed or mistimed anywhere shows as a difference.
//
//===----------------------------------------------------------------------===//
#include "ArtifactTestUtils.h"

#include "runtime/train/Trainer.h"

#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <map>

using namespace kiln;
namespace fs = std::filesystem;

namespace {

/// A device whose memory is another CPU executor's.
class CpuAsDevice final : public DeviceBackend {
public:
  static std::unique_ptr<DeviceBackend> open(const std::string &dir, const Manifest &m, int,
                                             const uint8_t *persistent, DeviceHooks hooks,
                                             std::string &error) {
    auto d = std::make_unique<CpuAsDevice>(m, std::move(hooks));
    if (!(d->inner = Executor::load(dir, 2, error)))
      return nullptr;
    std::memcpy(d->base(Region::Persistent), persistent, m.compiled.persistentBytes);
    return d;
  }
  CpuAsDevice(const Manifest &m, DeviceHooks hooks) : m(m), hooks(std::move(hooks)) {}

  const std::string &description() const override { return name; }
  void upload(Region r, int64_t offset, const void *host, int64_t bytes) override {
    std::memcpy(base(r) + offset, host, bytes);
  }
  // As the CUDA backend: staged bytes are held apart until placed, so an
  // input staged for the wrong run or placed late shows.
  bool stage(Region r, int64_t offset, const void *host, int64_t bytes) override {
    auto *p = static_cast<const uint8_t *>(host);
    staged.push_back({r, offset, std::vector<uint8_t>(p, p + bytes)});
    return true;
  }
  void placeStaged() override {
    for (const auto &s : staged)
      std::memcpy(base(s.region) + s.offset, s.bytes.data(), s.bytes.size());
    staged.clear();
  }
  void discardStaged() override { staged.clear(); }
  void download(Region r, int64_t offset, void *host, int64_t bytes) override {
    std::memcpy(host, base(r) + offset, bytes);
  }
  void enqueue(int program, size_t first, size_t last) override {
    for (size_t i = first; i < last; ++i) {
      const RandomFill *fill = m.compiled.programs[program].thunks[i].as<RandomFill>();
      if (!fill) {
        inner->runThunks(program, i, i + 1);
        continue;
      }
      // As the CUDA backend: drawn into the host mirror, then copied over.
      hooks.fillRandom(*fill);
      const Buffer &b = m.compiled.buffers[fill->buffer];
      upload(b.region, b.offset, hooks.hostData(b.id), b.bytes);
    }
  }
  void synchronize() override {}
  void savePersistent() override {
    saved.assign(base(Region::Persistent), base(Region::Persistent) + m.compiled.persistentBytes);
  }
  void restorePersistent() override {
    std::memcpy(base(Region::Persistent), saved.data(), saved.size());
  }
  std::unique_ptr<Collectives> connect(std::unique_ptr<Collectives> host, std::string &) override {
    return host;
  }

private:
  uint8_t *base(Region r) const {
    for (const Buffer &b : m.compiled.buffers)
      if (b.region == r)
        return static_cast<uint8_t *>(inner->data(b.id)) - b.offset;
    return nullptr;
  }

  const Manifest &m;
  DeviceHooks hooks;
  std::unique_ptr<Executor> inner;
  std::vector<uint8_t> saved;
  struct Staged {
    Region region;
    int64_t offset;
    std::vector<uint8_t> bytes;
  };
  std::vector<Staged> staged;
  std::string name = "a CPU executor standing in for a GPU";
};

class MirroredDevice : public ::testing::TestWithParam<const char *> {
protected:
  static void TearDownTestSuite() {
    for (auto &[path, dir] : dirs)
      fs::remove_all(dir);
  }
  /// The graph at batch 8, compiled once for both tests.
  static const std::string &artifact(const std::string &path) {
    auto [it, fresh] = dirs.try_emplace(path);
    if (fresh) {
      std::string error;
      it->second = test::compileArtifact(path, {{"batch_size", 8}, {"log_every", 5}}, {}, error);
      EXPECT_FALSE(it->second.empty()) << error;
    }
    return it->second;
  }
  static std::map<std::string, std::string> dirs;
};
std::map<std::string, std::string> MirroredDevice::dirs;

TEST_P(MirroredDevice, TrainsAndEvaluatesBitForBitAsTheCpu) {
  std::string error, dir = artifact(GetParam());
  ASSERT_FALSE(dir.empty());
  data::Dataset dataset = data::syntheticDataset(8 * 12, 40, 9);
  TrainResult results[2];
  TensorMap params[2], state[2];
  for (int device : {0, 1}) {
    auto exec = device ? Executor::load(dir, 2, error, 0, CpuAsDevice::open)
                       : Executor::load(dir, 2, error);
    ASSERT_TRUE(exec) << error;
    ASSERT_EQ(exec->device() != nullptr, device == 1);
    TrainOptions options;
    options.epochs = 2;
    options.runDir = dir + "-run" + std::to_string(device);
    options.quiet = true;
    ASSERT_TRUE(train(*exec, dataset, options, results[device], error)) << error;
    params[device] = exec->tensors("param");
    state[device] = exec->tensors("state");
    fs::remove_all(options.runDir);
  }
  EXPECT_EQ(results[1].steps, results[0].steps);
  EXPECT_EQ(results[1].lastLoss, results[0].lastLoss);
  EXPECT_EQ(results[1].testAccuracy, results[0].testAccuracy);
  ASSERT_EQ(params[1].size(), params[0].size());
  for (auto &[name, t] : params[0])
    EXPECT_TRUE(params[1][name].data == t.data) << "parameter " << name;
  for (auto &[name, t] : state[0])
    EXPECT_TRUE(state[1][name].data == t.data) << "state " << name;
}

TEST_P(MirroredDevice, EveryThunkComparesEqual) {
  // The GPU check's own machinery (per-thunk runs, copies both ways)
  // through a device that computes exactly what the CPU does.
  std::string error, dir = artifact(GetParam());
  ASSERT_FALSE(dir.empty());
  auto exec = Executor::load(dir, 2, error, 0, CpuAsDevice::open);
  ASSERT_TRUE(exec) << error;
  test::feedFirstBatch(*exec, data::syntheticDataset(64, 16, 4));
  int program = exec->program("train_step");
  auto diffs = exec->compareWithDevice(program);
  EXPECT_EQ(diffs.size(), exec->manifest().compiled.programs[program].thunks.size());
  for (const auto &d : diffs)
    EXPECT_EQ(d.relative, 0.0) << "thunk " << d.thunk;
}

// DINO: schedules, stochastic depth's random thunks, the EMA teacher and
// centre (state), k-NN evaluation; supervised: labels and test accuracy.
INSTANTIATE_TEST_SUITE_P(Graphs, MirroredDevice,
                         ::testing::Values("models/vit-fm-dino.json", "models/vit-fm-sup.json"));

} // namespace
