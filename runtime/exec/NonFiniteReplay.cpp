//===- NonFiniteReplay.cpp - the thunk that made the first NaN ------------===//
//
// The trainer keeps the parameters and state from before each step. When
// the step's loss or its trained values come out non-finite, it puts them
// back and runs the step again thunk by thunk, checking every thunk's float
// outputs, so that the error can name the op that made the first NaN or
// infinity.
//
//===----------------------------------------------------------------------===//
#include "runtime/exec/Executor.h"

#include "runtime/artifact/ShardLayout.h"

#include "runtime/artifact/LowFloat.h"

#include <cstring>

namespace kiln {
namespace {

/// Parameters and state: what a step changes and the replay restores.
bool trained(const Buffer &b) { return b.kind == "param" || b.kind == "state"; }

/// Whether a float buffer holds no NaN or infinity (integers: true).
bool allFinite(const Buffer &b, const void *p) {
  if (!info(b.dtype).isFloat)
    return true;
  float sum = 0; // NaN and ±inf make the sum non-finite; one pass, vectorised
  if (b.dtype == DType::F32) {
    auto *x = static_cast<const float *>(p);
    for (int64_t i = 0; i < b.bytes / 4; ++i)
      sum += x[i] * 0.0f;
  } else {
    for (int64_t i = 0; i < b.bytes / elementBytes(b.dtype); ++i)
      sum += floatAt(p, b.dtype, i) * 0.0f;
  }
  return sum == 0.0f;
}

} // namespace

void Executor::copyTrainedState(bool save) {
  size_t at = 0;
  for (const Buffer &b : m.compiled.buffers)
    if (trained(b)) {
      if (save) {
        savedState.resize(std::max(savedState.size(), at + b.bytes));
        std::memcpy(savedState.data() + at, data(b.id), b.bytes);
      } else {
        std::memcpy(data(b.id), savedState.data() + at, b.bytes);
      }
      at += b.bytes;
    }
}

void Executor::saveTrainedState() {
  if (gpu)
    return gpu->savePersistent();
  copyTrainedState(true);
}

void Executor::restoreTrainedState() {
  if (gpu)
    return gpu->restorePersistent();
  copyTrainedState(false);
}

bool Executor::trainedStateFinite() const {
  if (gpu) {
    // Parameters and state are persistent, laid out in buffer order: one
    // copy per run of them, not a copy and a wait per buffer every step.
    // Inputs and schedules between runs stay as the host has them.
    int64_t begin = -1, end = 0;
    auto copyRun = [&] {
      if (begin >= 0)
        gpu->download(Region::Persistent, begin, persistent + begin, end - begin);
      begin = -1;
    };
    for (const Buffer &b : m.compiled.buffers) {
      if (b.region != Region::Persistent)
        continue;
      if (!trained(b)) {
        copyRun();
        continue;
      }
      if (b.offset < end) // not after the run (compiled artifacts never do this)
        copyRun();
      if (begin < 0)
        begin = b.offset;
      end = b.offset + b.bytes;
    }
    copyRun();
  }
  bool finite = true;
  for (const Buffer &b : m.compiled.buffers)
    finite = finite && (!trained(b) || allFinite(b, data(b.id)));
  if (shardRanks(m.compiled) > 0 && worldSize() > 1) {
    // Each rank holds its own chunks: all replay or none.
    double bad = finite ? 0 : 1;
    comm->allReduceSum(&bad, 1);
    finite = bad == 0;
  }
  return finite;
}

int64_t Executor::runUntilNonFinite(int program) {
  const Program &p = m.compiled.programs[program];
  discardStaged(); // the step replayed reads the host's inputs
  uploadHostWritten(program);
  // Sharded, the ranks compute different chunks: all stop at the first
  // thunk where any rank's output is not finite, or one would wait in a
  // collective for the others forever.
  bool agree = worldSize() > 1 && shardRanks(m.compiled) > 0;
  for (size_t i = 0; i < p.thunks.size(); ++i) {
    runThunks(program, i, i + 1);
    bool finite = true;
    for (int64_t out : p.thunks[i].written()) {
      fromDevice(out);
      finite = finite && allFinite(m.compiled.buffers[out], data(out));
    }
    if (agree) {
      double bad = finite ? 0 : 1;
      comm->allReduceSum(&bad, 1);
      finite = bad == 0;
    }
    if (!finite)
      return i;
  }
  return -1;
}

} // namespace kiln
