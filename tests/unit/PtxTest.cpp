//===- PtxTest.cpp - every kernel of every shipped model assembles for sm_80/sm_90 ===//
//
// Each shipped graph (and the DINO loss benchmark graph) is compiled and
// planned as `kiln compile --target=cuda` does; every kernel the CPU runs
// is lowered through the gpu dialect and NVVM to PTX, and ptxas (from the
// CUDA toolkit, found at configure time) must assemble each module for
// sm_80 and sm_90 with one entry per kernel. Without a CUDA toolkit the
// test is skipped with the reason; running the kernels needs a GPU
// (CudaExecutorTest, scripts/gpu-check).
//
//===----------------------------------------------------------------------===//
#include "StepTestUtils.h"

#include "compiler/Codegen/CudaKernels.h"
#include "runtime/artifact/Manifest.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Program.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iostream>

namespace {

class Ptx : public ::testing::TestWithParam<const char *> {};

/// How many `.entry` kernels a PTX module defines.
int entries(const std::string &ptx) {
  int n = 0;
  for (size_t at = 0; (at = ptx.find(".entry ", at)) != std::string::npos; ++at)
    ++n;
  return n;
}

TEST_P(Ptx, EveryKernelAssemblesForSm80AndSm90) {
  std::string ptxas = KILN_PTXAS;
  if (ptxas.empty() || !llvm::sys::fs::exists(ptxas))
    GTEST_SKIP() << "no ptxas (the CUDA toolkit) on this machine: PTX is not checked";
  auto planned = kiln::test::plannedKernels(GetParam());
  ASSERT_TRUE(planned);
  kiln::KernelEmitter &emitter = *planned->emitter;
  kiln::CompiledModel &model = planned->plan.model;
  std::map<std::string, std::string> ptx;
  std::string error;
  mlir::TimingScope untimed;
  if (!kiln::emitPtx(emitter.module(), emitter.fusionKernels, kiln::kCudaArchs, model.kernels,
                     /*cacheDir=*/"", /*lineInfo=*/false, untimed, ptx, error)) {
    if (error.find("libdevice") != std::string::npos)
      GTEST_SKIP() << error;
    FAIL() << error;
  }
  int perBlock = 0;
  for (const kiln::Kernel &k : model.kernels) {
    EXPECT_GE(k.gpu.threads, 32) << k.name;
    EXPECT_LE(k.gpu.threads, 256) << k.name;
    perBlock += k.gpu.rowPerBlock;
  }
  EXPECT_GT(perBlock, 0) << "no fused region got a block per row";
  ASSERT_EQ(ptx.size(), kiln::kCudaArchs.size());
  for (auto &[arch, code] : ptx) {
    EXPECT_EQ(entries(code), (int)model.kernels.size()) << arch;
    std::string file = std::filesystem::temp_directory_path() /
                       ("kiln-" + std::to_string(::getpid()) + "-" + arch + ".ptx");
    std::ofstream(file) << code;
    std::string message;
    int rc = llvm::sys::ExecuteAndWait(ptxas, {ptxas, "-arch=" + arch, file, "-o", "/dev/null"},
                                       std::nullopt, {}, 0, 0, &message);
    EXPECT_EQ(rc, 0) << GetParam() << " " << arch << ": ptxas failed " << message;
    std::cout << "[ptx] " << GetParam() << " " << arch << ": " << model.kernels.size()
              << " kernels (" << perBlock << " a block per row) assembled\n";
    std::filesystem::remove(file);
  }
}

INSTANTIATE_TEST_SUITE_P(Graphs, Ptx,
                         ::testing::Values("models/vit-fm-sup.json", "models/vit-fm-dino.json",
                                           "models/vit-fm-sd.json", "models/vit-fm-mtl.json",
                                           "models/vit-fm-kd.json", "models/resnet20-fm-sup.json",
                                           "models/resnet-fm-dino.json",
                                           "bench/dino-loss/dino-loss.json"));

} // namespace
