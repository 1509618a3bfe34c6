//===- GpuKernels.h - kiln inspect --target cuda: kernels against a GPU -*- C++ -*-===//
//
// How each kernel thunk of a --target=cuda artifact fills an sm_90 GPU
// (H100 or H200): its launch (blocks of threads, as the CUDA backend
// launches it), registers and spills (ptxas -v on the artifact's sm_90
// PTX), the blocks that fit on an SM and so the occupancy, its blocks
// against the SMs, the bytes it moves, and the time a bandwidth model
// predicts:
//
//   t = 2.5 µs launch + bytes / (0.9 · peak bandwidth · fill)
//
// where fill = min(1, warps resident in the first wave / (SMs · 32)): a
// memory-bound kernel needs about half of each SM's 64 warp slots busy to
// reach the bandwidth. The model knows nothing of serial loops inside a
// thread, so a kernel far slower than predicted is a kernel to reshape.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_TOOLS_GPUKERNELS_H
#define KILN_TOOLS_GPUKERNELS_H

#include "runtime/artifact/Manifest.h"

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace kiln {

/// An sm_90 GPU: its SMs and peak memory bandwidth (bytes/s).
struct GpuModel {
  std::string name;
  int sms;
  double bandwidth;
};
/// "h100" (H100 SXM, 3.35 TB/s) or "h200" (4.8 TB/s), else none.
std::optional<GpuModel> gpuModel(const std::string &name);

/// What ptxas says of one entry.
struct PtxasEntry {
  int registers = 0;
  int64_t spillBytes = 0, sharedBytes = 0;
};
/// ptxas -v -arch=sm_90 on `ptxFile`, per entry; false with `error` when
/// no ptxas is found or it fails.
bool runPtxas(const std::string &ptxFile, std::map<std::string, PtxasEntry> &entries,
              std::string &error);

/// One kernel thunk on `gpu`.
struct GpuKernelFit {
  size_t thunk;
  std::string region;
  int64_t rows, threads, blocks;
  PtxasEntry ptxas;
  int blocksPerSm;
  double occupancy; // resident warps of an SM / 64
  int64_t bytes;
  double predictedSeconds;
};
/// Every kernel thunk of `p`.
std::vector<GpuKernelFit> fitKernels(const CompiledModel &c, const Program &p,
                                     const std::map<std::string, PtxasEntry> &ptxas,
                                     const GpuModel &gpu);

/// The table kiln inspect --target cuda prints.
void printGpuKernels(const std::vector<GpuKernelFit> &fits, const Program &p, const GpuModel &gpu);

} // namespace kiln

#endif // KILN_TOOLS_GPUKERNELS_H
