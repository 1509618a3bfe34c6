//===- Program.h - a planned step: buffers, thunks, kernels ------*- C++ -*-===//
//
// What codegen hands to the artifact writer and the runtime reads back
// from the manifest (runtime/artifact/Manifest.cpp), free of MLIR: every
// value's buffer (a region and an offset), the flat thunk sequence the
// runtime replays, and the kernels those thunks launch.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_RUNTIME_ARTIFACT_PROGRAM_H
#define KILN_RUNTIME_ARTIFACT_PROGRAM_H

#include "runtime/artifact/DType.h"

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

namespace kiln {

/// Where a buffer lives. Persistent buffers keep their contents across
/// steps (parameters, state, inputs the runtime writes, schedule values,
/// constants); the arena holds temporaries that liveness lets overlap.
enum class Region { Persistent, Arena };

struct Buffer {
  int64_t id;
  std::string name; // a source's name, or the op that defined it
  std::string kind; // param, state, input, schedule, constant, temp
  DType dtype;
  std::vector<int64_t> shape;
  Region region;
  int64_t offset = 0; // bytes into the region
  int64_t bytes = 0;
};

/// One strided operand of a GEMM: element offset, leading dimension,
/// transposition and the element stride of each batch dimension.
struct GemmOperand {
  int64_t buffer;
  int64_t offset = 0;
  int64_t ld = 0;
  bool transpose = false;
  std::vector<int64_t> batchStrides;
};

struct Thunk {
  enum Kind { Kernel, Gemm, Copy, Random, AllReduceStart, AllReduceWait } kind;
  std::vector<std::string> ops; // the ops it came from (locations' names)
  // Kernel: the kernel's index, its buffers in argument order and the
  // parallel extent the runtime splits ([begin, end) of `rows`).
  int64_t kernel = -1;
  std::vector<int64_t> buffers;
  int64_t rows = 0;
  std::vector<int64_t> outputs; // the buffers it writes
  // Inputs read at exactly the output's element (same shape, no
  // broadcast): the output may overwrite them in place.
  std::vector<int64_t> sameIndexInputs;
  // Gemm: C[b] = A[b]·B[b] over the batch dims (row-major, alpha 1, beta 0).
  int64_t m = 0, n = 0, k = 0;
  std::vector<int64_t> batch;
  GemmOperand a, b, c;
  // Copy: `bytes` from buffers[0] to buffers[1].
  int64_t bytes = 0;
  // Random: buffers[0] (f32) filled with U[0, 1) from counter-based stream
  // `stream` of the run's (seed, rank, step) (kiln.random_uniform).
  int64_t stream = 0;
  // AllReduceStart: packs buffers[1..] into the bucket buffers[0], divided
  // by the world size, and starts summing it over the ranks; AllReduceWait
  // waits for it and unpacks the bucket into buffers[1..] (kiln.all_reduce).
  int64_t bucket = -1;
  // Work, for inspect and the benchmarks.
  int64_t flops = 0, trafficBytes = 0;
};

inline const char *thunkKindName(Thunk::Kind k) {
  switch (k) {
  case Thunk::Kernel:
    return "kernel";
  case Thunk::Gemm:
    return "gemm";
  case Thunk::Copy:
    return "copy";
  case Thunk::Random:
    return "random";
  case Thunk::AllReduceStart:
    return "all_reduce_start";
  case Thunk::AllReduceWait:
    return "all_reduce_wait";
  }
  return "?";
}

/// How the CUDA backend launches a kernel: a grid of blocks of `threads`
/// threads; a block per row (a fused region's row spread over the block)
/// or a thread per row. Each row gets `workspaceBytesPerRow` bytes of
/// global scratch. `rows`: the GPU kernel's own row count when it differs
/// from the thunk's (a map whose every element is a row), else 0. Zero
/// threads: the artifact has no GPU code.
struct GpuLaunch {
  int64_t threads = 0;
  bool rowPerBlock = false;
  int64_t workspaceBytesPerRow = 0;
};

struct Kernel {
  std::string name; // the symbol in the kernel library (and the PTX entry)
  std::string op;   // the kiln op it computes
  GpuLaunch gpu;
};

/// What a thunk computes, for reports: its kernel's op, else its kind.
inline std::string thunkOp(const std::vector<Kernel> &kernels, const Thunk &t) {
  return t.kind == Thunk::Kernel ? kernels[t.kernel].op : thunkKindName(t.kind);
}

/// A loss, metric, state/param update or output the runtime reads after
/// the step.
struct Sink {
  std::string kind; // loss, metric, output
  std::string name;
  int64_t buffer;
  /// The value's shape: a reshape shares its operand's buffer, whose
  /// shape may differ.
  std::vector<int64_t> shape;
};

struct Program {
  std::string entry; // "train_step" or "eval"
  std::vector<Thunk> thunks;
  std::vector<Sink> sinks;
  int64_t arenaBytes = 0;
};

/// Everything an artifact holds besides files: buffers are shared by all
/// programs (parameters are the same buffers in train and eval).
struct CompiledModel {
  std::vector<Buffer> buffers;
  std::vector<Kernel> kernels;
  std::vector<Program> programs;
  int64_t persistentBytes = 0;
  /// One arena serves every program: the largest.
  int64_t arenaBytes() const {
    int64_t most = 0;
    for (const Program &p : programs)
      most = std::max(most, p.arenaBytes);
    return most;
  }
};

} // namespace kiln

#endif // KILN_RUNTIME_ARTIFACT_PROGRAM_H
