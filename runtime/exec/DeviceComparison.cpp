//===- DeviceComparison.cpp - every thunk on the GPU against the CPU ------===//
//
// `kiln bench --check`: each thunk runs on both from the same inputs and
// their outputs are compared; the CPU's outputs then go to the GPU, so an
// error in one thunk does not carry over into the next.
//
//===----------------------------------------------------------------------===//
#include "runtime/exec/Executor.h"

#include "runtime/artifact/LowFloat.h"

#include <cmath>
#include <cstring>

namespace kiln {
namespace {

/// The largest |cpu - gpu| over a buffer and the largest |cpu| (for i1:
/// whether any byte differs, over 1).
std::pair<double, double> difference(const Buffer &b, const void *cpu, const void *gpu) {
  double diff = 0, scale = 0;
  if (b.dtype == DType::I1)
    return {std::memcmp(cpu, gpu, b.bytes) != 0 ? 1.0 : 0.0, 1.0};
  bool isFloat = info(b.dtype).isFloat;
  auto at = [&](const void *p, int64_t j) -> double {
    return isFloat ? floatAt(p, b.dtype, j) : static_cast<const int32_t *>(p)[j];
  };
  for (int64_t j = 0; j < b.bytes / elementBytes(b.dtype); ++j) {
    double x = at(cpu, j), y = at(gpu, j);
    diff = std::isnan(x) != std::isnan(y) ? INFINITY : std::max(diff, std::fabs(x - y));
    scale = std::max(scale, std::fabs(x));
  }
  return {diff, scale};
}

} // namespace

std::vector<Executor::ThunkDifference> Executor::compareWithDevice(int program) {
  const Program &p = m.compiled.programs[program];
  std::vector<ThunkDifference> out;
  if (!gpu)
    return out;
  gpu->upload(Region::Persistent, 0, persistent, m.compiled.persistentBytes);
  gpu->upload(Region::Arena, 0, arena, m.compiled.arenaBytes());
  std::vector<uint8_t> fromGpu;
  for (size_t i = 0; i < p.thunks.size(); ++i) {
    const Thunk &t = p.thunks[i];
    gpu->enqueue(program, i, i + 1);
    runThunk(t, pointers[program][i].data());
    double diff = 0, scale = 0;
    for (int64_t id : t.written()) {
      const Buffer &b = m.compiled.buffers[id];
      fromGpu.resize(b.bytes);
      gpu->download(b.region, b.offset, fromGpu.data(), b.bytes);
      auto [d, magnitude] = difference(b, data(id), fromGpu.data());
      diff = std::max(diff, d);
      scale = std::max(scale, magnitude);
      toDevice(id);
    }
    out.push_back({i, diff == 0 ? 0 : diff / std::max(scale, 1e-30)});
  }
  return out;
}

} // namespace kiln
