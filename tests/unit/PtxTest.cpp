//===- PtxTest.cpp - the fused regions' PTX assembles for sm_80 and sm_90 ===//
//
// Every kiln.fusion of the shipped supervised step, the DINO loss
// benchmark graph and the tiny classifier is lowered through the gpu
// dialect and NVVM to PTX, and ptxas (from the CUDA toolkit, found at
// configure time) must assemble each module for sm_80 and sm_90. Without a
// CUDA toolkit the test is skipped with the reason; running the kernels
// needs a GPU (the CUDA backend's tests).
//
//===----------------------------------------------------------------------===//
#include "StepTestUtils.h"

#include "compiler/Codegen/CudaKernels.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Program.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <cstring>
#include <fstream>
#include <sstream>
#include <iostream>

namespace {

class Ptx : public ::testing::TestWithParam<const char *> {};

TEST_P(Ptx, AssemblesForSm80AndSm90) {
  std::string ptxas = KILN_PTXAS;
  if (ptxas.empty() || !llvm::sys::fs::exists(ptxas))
    GTEST_SKIP() << "no ptxas (the CUDA toolkit) on this machine: PTX is not checked";
  std::ifstream in(std::string(KILN_SOURCE_DIR) + "/" + GetParam());
  std::stringstream text;
  text << in.rdbuf();
  std::string json = text.str();
  // Imports in the shipped graphs are relative to models/.
  for (const char *from : {"\"../../models/lib/", "\"../../../../models/lib/"}) {
    for (size_t at; (at = json.find(from)) != std::string::npos;)
      json.replace(at, std::strlen(from), "\"lib/");
  }
  auto module = kiln::test::importText(json, "fuse");
  ASSERT_TRUE(module);
  std::map<std::string, std::string> ptx;
  std::vector<kiln::PtxKernel> kernels;
  std::string error;
  if (!kiln::emitPtx(*module, {"sm_80", "sm_90"}, ptx, kernels, error)) {
    if (error.find("libdevice") != std::string::npos)
      GTEST_SKIP() << error;
    FAIL() << error;
  }
  EXPECT_FALSE(kernels.empty());
  for (auto &[arch, code] : ptx) {
    std::string file = std::filesystem::temp_directory_path() / ("kiln-" + arch + ".ptx");
    std::ofstream(file) << code;
    std::string message;
    int rc = llvm::sys::ExecuteAndWait(ptxas, {ptxas, "-arch=" + arch, file, "-o", "/dev/null"},
                                       std::nullopt, {}, 0, 0, &message);
    EXPECT_EQ(rc, 0) << GetParam() << " " << arch << ": ptxas failed " << message;
    std::cout << "[ptx] " << GetParam() << " " << arch << ": " << kernels.size()
              << " kernels assembled\n";
    std::filesystem::remove(file);
  }
}

INSTANTIATE_TEST_SUITE_P(Graphs, Ptx,
                         ::testing::Values("models/vit-fm-sup.json",
                                           "bench/dino-loss/dino-loss.json",
                                           "tests/lit/Tools/Inputs/tiny-classifier.json"));

} // namespace
