//===- GpuKernels.cpp - kiln inspect --target cuda: kernels against a GPU -===//
#include "GpuKernels.h"

#include <algorithm>
#include <cstdio>
#include <regex>
#include <sstream>
#include <unistd.h>

namespace kiln {
namespace {

// sm_90's per-SM limits (CUDA C Programming Guide, compute capability 9.0).
constexpr int kRegistersPerSm = 65536, kThreadsPerSm = 2048, kBlocksPerSm = 32;
constexpr int64_t kSharedPerSm = 228 << 10;
constexpr double kLaunchSeconds = 2.5e-6, kBandwidthReached = 0.9;
constexpr int kWarpsToSaturate = 32; // of an SM's 64

std::string findPtxas() {
  for (const char *dir : {"/usr/local/cuda/bin", "/usr/bin"}) {
    std::string p = std::string(dir) + "/ptxas";
    if (access(p.c_str(), X_OK) == 0)
      return p;
  }
  return "";
}

/// `s` as one shell word.
std::string shellQuoted(const std::string &s) {
  std::string q = "'";
  for (char ch : s)
    q += ch == '\'' ? std::string("'\\''") : std::string(1, ch);
  return q + "'";
}

} // namespace

std::optional<GpuModel> gpuModel(const std::string &name) {
  if (name == "h100")
    return GpuModel{"H100 SXM", 132, 3.35e12};
  if (name == "h200")
    return GpuModel{"H200", 132, 4.8e12};
  return std::nullopt;
}

bool runPtxas(const std::string &ptxFile, std::map<std::string, PtxasEntry> &entries,
              std::string &error) {
  std::string ptxas = findPtxas();
  if (ptxas.empty()) {
    error = "no ptxas in /usr/local/cuda/bin or /usr/bin (registers and spills come from it)";
    return false;
  }
  std::string command =
      shellQuoted(ptxas) + " -v -arch=sm_90 " + shellQuoted(ptxFile) + " -o /dev/null 2>&1";
  FILE *pipe = popen(command.c_str(), "r");
  if (!pipe) {
    error = "cannot run " + ptxas;
    return false;
  }
  std::string report;
  char buffer[4096];
  while (size_t n = fread(buffer, 1, sizeof buffer, pipe))
    report.append(buffer, n);
  if (pclose(pipe) != 0) {
    error = ptxas + " failed on " + ptxFile + ":\n" + report;
    return false;
  }
  static const std::regex entry(R"(Compiling entry function '([^']+)')"),
      registers(R"(Used (\d+) registers)"), spill(R"((\d+) bytes spill stores)"),
      shared(R"((\d+) bytes smem)");
  std::istringstream lines(report);
  PtxasEntry *at = nullptr;
  std::smatch match;
  for (std::string line; std::getline(lines, line);) {
    if (std::regex_search(line, match, entry))
      at = &entries[match[1]];
    if (!at)
      continue;
    if (std::regex_search(line, match, registers))
      at->registers = std::stoi(match[1]);
    if (std::regex_search(line, match, spill))
      at->spillBytes = std::stoll(match[1]);
    if (std::regex_search(line, match, shared))
      at->sharedBytes = std::stoll(match[1]);
  }
  return true;
}

std::vector<GpuKernelFit> fitKernels(const CompiledModel &c, const Program &p,
                                     const std::map<std::string, PtxasEntry> &ptxas,
                                     const GpuModel &gpu) {
  std::vector<GpuKernelFit> fits;
  for (size_t i = 0; i < p.thunks.size(); ++i) {
    const KernelLaunch *k = p.thunks[i].as<KernelLaunch>();
    if (!k || k->rows == 0)
      continue;
    const Kernel &kernel = c.kernels[k->kernel];
    GpuKernelFit f{i, p.thunks[i].name, k->rows, 0, 0, {}, 0, 0, p.thunks[i].trafficBytes, 0};
    f.threads = kernel.gpu.blockThreads(f.rows); // as CudaBackend::enqueue launches it
    f.blocks = kernel.gpu.blocks(f.rows);
    if (auto e = ptxas.find(kernel.name); e != ptxas.end())
      f.ptxas = e->second;
    int64_t warps = (f.threads + 31) / 32;
    // Registers are allocated per warp in units of 256.
    int64_t perWarp = (std::max(f.ptxas.registers, 1) * 32 + 255) / 256 * 256;
    int64_t byRegisters = kRegistersPerSm / (perWarp * warps);
    int64_t byShared = f.ptxas.sharedBytes ? kSharedPerSm / f.ptxas.sharedBytes : kBlocksPerSm;
    f.blocksPerSm = (int)std::min<int64_t>({kBlocksPerSm, kThreadsPerSm / (warps * 32),
                                            byRegisters, byShared});
    f.occupancy = f.blocksPerSm * warps / 64.0;
    int64_t resident = std::min<int64_t>(f.blocks, (int64_t)gpu.sms * f.blocksPerSm) * warps;
    double fill = std::min(1.0, resident / double(gpu.sms * kWarpsToSaturate));
    f.predictedSeconds =
        kLaunchSeconds + f.bytes / (kBandwidthReached * gpu.bandwidth * std::max(fill, 1e-9));
    fits.push_back(f);
  }
  return fits;
}

void printGpuKernels(const std::vector<GpuKernelFit> &fits, const Program &p, const GpuModel &gpu) {
  std::printf("\n  %s kernels on an %s (sm_90, %d SMs, %.2f TB/s; registers and spills from "
              "ptxas -arch=sm_90;\n  predicted = 2.5 us + bytes / (0.9 x bandwidth x fill), fill: "
              "warps of the first wave / (SMs x 32))\n",
              p.entry.c_str(), gpu.name.c_str(), gpu.sms, gpu.bandwidth / 1e12);
  std::printf("  %5s %-44s %7s %6s %5s %6s %6s %10s %9s %10s\n", "#", "region", "rows", "block",
              "regs", "spill", "occup", "blocks", "MB", "pred. us");
  double total = 0;
  int few = 0;
  for (const GpuKernelFit &f : fits) {
    total += f.predictedSeconds;
    few += f.blocks < 2 * gpu.sms;
    std::printf("  %5zu %-44s %7lld %6lld %5d %6lld %5.0f%% %10lld %9.3f %10.1f\n", f.thunk,
                f.region.c_str(), (long long)f.rows, (long long)f.threads, f.ptxas.registers,
                (long long)f.ptxas.spillBytes, 100 * f.occupancy, (long long)f.blocks,
                f.bytes / 1e6, 1e6 * f.predictedSeconds);
  }
  std::printf("  %zu kernels, predicted %.2f ms in all; %d launch fewer blocks than 2 x %d SMs\n",
              fits.size(), 1e3 * total, few, gpu.sms);
}

} // namespace kiln
