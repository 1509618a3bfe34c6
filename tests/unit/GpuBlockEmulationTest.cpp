//===- GpuBlockEmulationTest.cpp - CUDA kernels under adversarial block schedules ===//
//
// Every kernel of each shipped model (and the DINO loss benchmark and a
// fold in a serial loop), as the CUDA backend builds it
// (buildGpuKernels and lowerGpuFolds: the same thread-to-element mappings,
// block-wide folds and barriers the PTX has), runs on the CPU under the
// block emulator (BlockEmulator.h) with three schedules of its threads, at
// its first launch, for its first, middle and last block, and must write
// what the CPU kernel writes for the same rows from the same random
// buffers. A barrier missing between two phases that map threads to
// elements differently (a pad's fill and copy), or a shared buffer reused
// before every warp has read it (a fold in a serial loop), or lanes
// storing different values to one shared slot (a fold over 5 warps), makes
// some schedule write another value; threads waiting at different barriers
// fail the run. No GPU is needed: this is how those races are caught here.
//
//===----------------------------------------------------------------------===//
#include "BlockEmulator.h"
#include "StepTestUtils.h"

#include "compiler/Codegen/CudaKernels.h"
#include "runtime/artifact/LowFloat.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <random>
#include <set>
#include <tuple>

namespace {

using namespace kiln;
using namespace kiln::test;

/// A CPU kernel `k(void **buffers, int64 begin, int64 end, char *workspace)`.
using CpuKernelFn = void (*)(void **, int64_t, int64_t, char *);

/// A launch's argument buffers, those that overlap in the arena or the
/// persistent region overlapping here the same way: each maximal run of
/// overlapping arguments is one piece of memory.
struct ArgumentMemory {
  struct Piece {
    Region region;
    int64_t offset; // of its first byte there
    std::vector<char> bytes;
  };
  std::vector<Piece> pieces;

  ArgumentMemory(const CompiledModel &model, const KernelLaunch &launch, std::mt19937 &rng) {
    std::vector<std::tuple<Region, int64_t, int64_t>> spans;
    for (const KernelLaunch::Arg &a : launch.args) {
      const Buffer &b = model.buffers[a.buffer];
      spans.emplace_back(b.region, b.offset, b.offset + b.bytes);
    }
    std::sort(spans.begin(), spans.end());
    for (auto [region, begin, end] : spans) {
      if (pieces.empty() || pieces.back().region != region ||
          pieces.back().offset + (int64_t)pieces.back().bytes.size() <= begin)
        pieces.push_back({region, begin, {}});
      Piece &p = pieces.back();
      p.bytes.resize(std::max<int64_t>(p.bytes.size(), end - p.offset));
    }
    // Floats uniform in [0.25, 1.25): positive, so square roots, logarithms
    // and Adam's second moments stay finite and sums do not cancel (the
    // comparison below is mostly relative); integers (labels, indices,
    // flags) 0.
    std::uniform_real_distribution<float> uniform(0.25f, 1.25f);
    for (const KernelLaunch::Arg &a : launch.args) {
      const Buffer &b = model.buffers[a.buffer];
      if (info(b.dtype).isFloat)
        for (int64_t i = 0; i < b.bytes / elementBytes(b.dtype); ++i)
          setFloatAt(data(b), b.dtype, i, uniform(rng));
    }
  }

  char *data(const Buffer &b) {
    for (Piece &p : pieces)
      if (p.region == b.region && p.offset <= b.offset &&
          b.offset < p.offset + (int64_t)p.bytes.size())
        return p.bytes.data() + (b.offset - p.offset);
    return nullptr;
  }

  std::vector<void *> table(const CompiledModel &model, const KernelLaunch &launch) {
    std::vector<void *> pointers;
    for (const KernelLaunch::Arg &a : launch.args)
      pointers.push_back(data(model.buffers[a.buffer]));
    return pointers;
  }
};

/// Expects `b` the same after both runs: integers exactly; floats within
/// what another summation order gives (a block's tree of partial sums
/// against the CPU's serial loop), 1e-4 of the value and 1e-4 of the
/// inputs' scale (1: a normalisation's x - mean cancels to a few 1e-6 of
/// it) in f32, a bf16 rounding of both in bf16; NaN with NaN but not
/// everywhere (a buffer that is all NaN checks nothing). A race writes a
/// wrong element, not a rounding.
void expectSame(const Buffer &b, const char *cpu, const char *gpu, const std::string &where) {
  if (!info(b.dtype).isFloat) {
    EXPECT_EQ(std::memcmp(cpu, gpu, b.bytes), 0) << where << ": " << b.name << " differs";
    return;
  }
  double relative = b.dtype == DType::F32 ? 1e-4 : 1e-2, absolute = relative;
  int64_t n = b.bytes / elementBytes(b.dtype), wrong = 0, first = -1, nans = 0;
  for (int64_t i = 0; i < n; ++i) {
    double x = floatAt(cpu, b.dtype, i), y = floatAt(gpu, b.dtype, i);
    nans += std::isnan(x) && std::isnan(y);
    if (!(std::isnan(x) && std::isnan(y)) &&
        !(std::abs(x - y) <= relative * std::max(std::abs(x), std::abs(y)) + absolute) &&
        wrong++ == 0)
      first = i;
  }
  EXPECT_EQ(wrong, 0) << where << ": " << b.name << "[" << first << "] is "
                      << (first < 0 ? 0 : floatAt(gpu, b.dtype, first)) << " on the GPU, "
                      << (first < 0 ? 0 : floatAt(cpu, b.dtype, first)) << " on the CPU";
  EXPECT_LT(nans, n) << where << ": " << b.name << " is NaN everywhere";
}

class GpuKernelsOnEmulatedBlocks : public ::testing::TestWithParam<const char *> {};

TEST_P(GpuKernelsOnEmulatedBlocks, WriteWhatTheCpuKernelsWrite) {
#if defined(__SANITIZE_ADDRESS__)
  GTEST_SKIP() << "the block emulator switches stacks behind AddressSanitizer's back";
#endif
  auto planned = plannedKernels(GetParam());
  ASSERT_TRUE(planned);
  KernelEmitter &emitter = *planned->emitter;
  CompiledModel &model = planned->plan.model;
  std::string error;
  auto gpuKernels = buildGpuKernels(emitter.module(), emitter.fusionKernels, model.kernels, error);
  ASSERT_TRUE(gpuKernels) << error;
  mlir::TimingScope untimed;
  ASSERT_TRUE(lowerGpuFolds(*gpuKernels, untimed, error)) << error;
  auto emulated = emulatedKernels(*gpuKernels, error);
  ASSERT_TRUE(emulated) << error;
  ASSERT_TRUE(lowerKernelsToLLVMDialect(emitter.module(), untimed, error)) << error;
  ASSERT_TRUE(lowerKernelsToLLVMDialect(*emulated, untimed, error)) << error;
  auto cpu = KernelJit::create(emitter.module(), {}, error);
  ASSERT_TRUE(cpu) << error;
  auto gpu = KernelJit::create(*emulated, emulatorSymbols(), error);
  ASSERT_TRUE(gpu) << error;

  std::mt19937 rng(7);
  std::set<int64_t> seen;
  int64_t blocksRun = 0;
  for (const Program &program : model.programs)
    for (const Thunk &thunk : program.thunks) {
      const KernelLaunch *launch = thunk.as<KernelLaunch>();
      if (!launch || launch->rows == 0 || !seen.insert(launch->kernel).second)
        continue;
      const Kernel &k = model.kernels[launch->kernel];
      auto cpuKernel = reinterpret_cast<CpuKernelFn>(cpu->lookup(k.name));
      auto gpuKernel = reinterpret_cast<GpuKernelFn>(gpu->lookup(k.name));
      ASSERT_TRUE(cpuKernel && gpuKernel) << k.name;
      int64_t rows = launch->rows, threads = k.gpu.blockThreads(rows), blocks = k.gpu.blocks(rows);
      // The first, a middle and the last block: the CPU kernel computes
      // the same rows.
      std::set<int64_t> chosen{0, blocks / 2, blocks - 1};
      ArgumentMemory initial(model, *launch, rng);
      for (Schedule schedule : {Schedule::Ascending, Schedule::Descending, Schedule::Random}) {
        ArgumentMemory onCpu = initial, onGpu = initial;
        std::vector<void *> cpuTable = onCpu.table(model, *launch),
                            gpuTable = onGpu.table(model, *launch);
        std::vector<char> cpuWorkspace(k.workspaceBytes + 64),
            gpuWorkspace(rows * k.gpu.workspaceBytesPerRow + 64);
        for (int64_t block : chosen) {
          int64_t begin = k.gpu.rowPerBlock ? block : block * threads;
          int64_t end = k.gpu.rowPerBlock ? block + 1 : std::min(rows, begin + threads);
          cpuKernel(cpuTable.data(), begin, end, cpuWorkspace.data());
          ASSERT_TRUE(runBlock(gpuKernel, gpuTable.data(), rows, gpuWorkspace.data(), block,
                               blocks, threads, schedule, blocksRun++, error))
              << k.name << " (" << k.op << "), block " << block << ": " << error;
        }
        std::string where = k.name + " (" + k.op + "), " + std::to_string(threads) +
                            " threads, schedule " + std::to_string(int(schedule));
        std::set<int64_t> compared;
        for (const KernelLaunch::Arg &a : launch->args) {
          const Buffer &b = model.buffers[a.buffer];
          if (compared.insert(a.buffer).second)
            expectSame(b, onCpu.data(b), onGpu.data(b), where);
        }
      }
    }
  EXPECT_GT(blocksRun, 0);
}

INSTANTIATE_TEST_SUITE_P(Graphs, GpuKernelsOnEmulatedBlocks,
                         ::testing::Values("models/vit-fm-sup.json", "models/vit-fm-dino.json",
                                           "models/vit-fm-sd.json", "models/vit-fm-mtl.json",
                                           "models/resnet20-fm-sup.json",
                                           "models/resnet-fm-dino.json",
                                           "bench/dino-loss/dino-loss.json",
                                           "tests/unit/Inputs/fold-in-serial-loop.json"),
                         [](const auto &info) {
                           std::string name = std::filesystem::path(info.param).stem().string();
                           std::replace(name.begin(), name.end(), '-', '_');
                           return name;
                         });

} // namespace
