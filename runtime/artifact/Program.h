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

#include "runtime/artifact/ConvGeometry.h"
#include "runtime/artifact/DType.h"

#include <algorithm>
#include <cstdint>
#include <string>
#include <type_traits>
#include <variant>
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
  /// Sharded state (kiln-shard-optimizer): this rank's chunk of a tensor
  /// of `wholeShape` over `shards` ranks; snapshots hold it whole.
  int64_t shards = 0;
  std::vector<int64_t> wholeShape;
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

/// How a thunk touches a buffer. The planner's liveness and in-place rules,
/// the manifest's checks and the runtime's per-thunk comparisons read the
/// uses, so a new thunk kind declares them once, beside its payload: each
/// payload's `eachUse(self, f)` calls f(int64_t &buffer, Access) once per
/// buffer (one body serves a const thunk and one the planner renames).
/// No thunk needs scratch of its own yet: a kernel's workspace (CPU per
/// thread, GPU per row) is the backend's.
enum class Access { Read, Write };

/// A generated kernel over rows [0, rows), which the runtime splits over
/// threads; its arguments in the kernel's order.
struct KernelLaunch {
  static constexpr const char *kName = "kernel";
  int64_t kernel = -1;
  int64_t rows = 0;
  struct Arg {
    int64_t buffer;
    Access access;
  };
  std::vector<Arg> args;
  // Inputs read only at the element being written (same shape, no
  // broadcast): an output may overwrite one in place. The planner's.
  std::vector<int64_t> sameIndexInputs;
  template <class Self, class F> static void eachUse(Self &self, F &&f) {
    for (auto &a : self.args)
      f(a.buffer, a.access);
  }
};

/// C[b] = A[b]·B[b] over the batch dims (row-major, alpha 1, beta 0).
struct GemmCall {
  static constexpr const char *kName = "gemm";
  int64_t m = 0, n = 0, k = 0;
  std::vector<int64_t> batch;
  GemmOperand a, b, c;
  /// The number of matrix products (the batch dims' product).
  int64_t batches() const {
    int64_t n = 1;
    for (int64_t d : batch)
      n *= d;
    return n;
  }
  template <class Self, class F> static void eachUse(Self &self, F &&f) {
    f(self.a.buffer, Access::Read);
    f(self.b.buffer, Access::Read);
    f(self.c.buffer, Access::Write);
  }
};

/// One pass of a 2-D convolution through the convolution library (the
/// CPU's im2col and BLAS, cuDNN on GPUs). The buffers are named by their
/// role in the forward convolution; the pass says which one is written:
/// the result (forward), the input's gradient into `input` (from the
/// result's gradient in `result`), or the weight's gradient into `weight`.
struct ConvCall {
  static constexpr const char *kName = "conv";
  enum Pass { Forward, InputGrad, WeightGrad } pass = Forward;
  ConvGeometry geometry;
  int64_t input = -1, weight = -1, result = -1;
  template <class Self, class F> static void eachUse(Self &self, F &&f) {
    auto access = [&](Pass writer) { return self.pass == writer ? Access::Write : Access::Read; };
    f(self.input, access(InputGrad));
    f(self.weight, access(WeightGrad));
    f(self.result, access(Forward));
  }
};

/// `bytes` from buffer `from`, starting `fromOffset` bytes in, to buffer
/// `to` at `toOffset` (a concat's operand into its place in the result).
struct CopyBytes {
  static constexpr const char *kName = "copy";
  int64_t from = -1, to = -1, bytes = 0, fromOffset = 0, toOffset = 0;
  template <class Self, class F> static void eachUse(Self &self, F &&f) {
    f(self.from, Access::Read);
    f(self.to, Access::Write);
  }
};

/// An f32 buffer filled with U[0, 1) from counter-based stream `stream` of
/// the run's (seed, rank, step) (kiln.random_uniform).
struct RandomFill {
  static constexpr const char *kName = "random";
  int64_t buffer = -1, stream = 0;
  template <class Self, class F> static void eachUse(Self &self, F &&f) {
    f(self.buffer, Access::Write);
  }
};

/// A bucket's collective, started and later waited for: the start packs
/// tensors into the bucket buffer and starts the transfer, the wait waits
/// and unpacks the bucket into tensors (the op's results).
///  - all-reduce (kiln.all_reduce): packed end to end, divided by the world
///    size, summed over the ranks: each result is its operand's mean.
///  - reduce-scatter (kiln.reduce_scatter): whole tensors packed as a
///    ShardLayout, divided by the world size; each rank unpacks the mean of
///    its own segment: its chunk of every tensor.
///  - all-gather (kiln.all_gather): each rank packs its chunks into its
///    segment; after the gather each unpacks every segment: whole tensors.
struct BucketTransfer {
  int64_t bucket = -1;       // the bucket's number, shared by the ranks
  int64_t bucketBuffer = -1; // the packed buffer
  std::vector<int64_t> tensors;
  int64_t ranks = 1; // reduce-scatter and all-gather: the segments
};
struct CollectiveStart : BucketTransfer {
  template <class Self, class F> static void eachUse(Self &self, F &&f) {
    for (auto &id : self.tensors)
      f(id, Access::Read);
    f(self.bucketBuffer, Access::Write);
  }
};
struct CollectiveWait : BucketTransfer {
  template <class Self, class F> static void eachUse(Self &self, F &&f) {
    f(self.bucketBuffer, Access::Read);
    for (auto &id : self.tensors)
      f(id, Access::Write);
  }
};
struct AllReduceStart : CollectiveStart {
  static constexpr const char *kName = "all_reduce_start";
};
struct AllReduceWait : CollectiveWait {
  static constexpr const char *kName = "all_reduce_wait";
};
struct ReduceScatterStart : CollectiveStart {
  static constexpr const char *kName = "reduce_scatter_start";
};
struct ReduceScatterWait : CollectiveWait {
  static constexpr const char *kName = "reduce_scatter_wait";
};
struct AllGatherStart : CollectiveStart {
  static constexpr const char *kName = "all_gather_start";
};
struct AllGatherWait : CollectiveWait {
  static constexpr const char *kName = "all_gather_wait";
};

/// This rank's chunk of a tensor every rank holds whole (kiln.shard):
/// ShardLayout's chunk `rank` of `from`, zero-padded, into `to`.
struct ShardSlice {
  static constexpr const char *kName = "shard";
  int64_t from = -1, to = -1, ranks = 1;
  template <class Self, class F> static void eachUse(Self &self, F &&f) {
    f(self.from, Access::Read);
    f(self.to, Access::Write);
  }
};

/// std::visit over lambdas, one per payload: a kind left out fails to
/// compile.
template <class... F> struct Overloaded : F... {
  using F::operator()...;
};
template <class... F> Overloaded(F...) -> Overloaded<F...>;

/// One step of a program: its payload says what runs.
struct Thunk {
  using Payload =
      std::variant<KernelLaunch, GemmCall, ConvCall, CopyBytes, RandomFill, ShardSlice,
                   AllReduceStart, AllReduceWait, ReduceScatterStart, ReduceScatterWait,
                   AllGatherStart, AllGatherWait>;
  Payload payload;
  std::vector<std::string> ops; // the ops it came from (locations' names)
  // Work, for inspect and the benchmarks.
  int64_t flops = 0, trafficBytes = 0;
  /// The region a kernel thunk (or a region's byte copies) computes
  /// (kiln-name-regions), the one name its kernel, buffers and dumps carry;
  /// empty for GEMMs, convolutions, collectives and random draws.
  std::string name;

  /// How reports name the thunk: its region and first op, else its op.
  std::string label() const {
    std::string op = ops.empty() ? "" : ops.front();
    if (name.empty())
      return op.empty() ? "-" : op;
    return op.empty() ? name : name + " (" + op + ")";
  }

  template <class T> bool is() const { return std::holds_alternative<T>(payload); }
  template <class T> const T *as() const { return std::get_if<T>(&payload); }
  template <class T> T *as() { return std::get_if<T>(&payload); }
  const char *kindName() const {
    return std::visit([](const auto &p) { return p.kName; }, payload);
  }
  /// f(buffer, access) for every buffer the thunk touches, in its order.
  template <class F> void eachUse(F &&f) const {
    std::visit([&](const auto &p) { std::decay_t<decltype(p)>::eachUse(p, f); }, payload);
  }
  /// The same, with the buffer ids writable (the planner renames them).
  template <class F> void eachUseMutable(F &&f) {
    std::visit([&](auto &p) { std::decay_t<decltype(p)>::eachUse(p, f); }, payload);
  }
  bool reads(int64_t buffer) const { return touches(buffer, Access::Read); }
  bool writes(int64_t buffer) const { return touches(buffer, Access::Write); }
  bool uses(int64_t buffer) const { return reads(buffer) || writes(buffer); }
  std::vector<int64_t> written() const {
    std::vector<int64_t> out;
    eachUse([&](int64_t id, Access a) {
      if (a == Access::Write)
        out.push_back(id);
    });
    return out;
  }

private:
  bool touches(int64_t buffer, Access access) const {
    bool found = false;
    eachUse([&](int64_t id, Access a) { found |= id == buffer && a == access; });
    return found;
  }
};

/// A collective thunk's bucket (its start's or its wait's), else null.
inline const BucketTransfer *bucketTransfer(const Thunk &t) {
  return std::visit(
      [](const auto &p) -> const BucketTransfer * {
        if constexpr (std::is_base_of_v<BucketTransfer, std::decay_t<decltype(p)>>)
          return &p;
        else
          return nullptr;
      },
      t.payload);
}
inline bool isCollectiveWait(const Thunk &t) {
  return t.is<AllReduceWait>() || t.is<ReduceScatterWait>() || t.is<AllGatherWait>();
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

  /// The threads of a block launched for `rows` rows: a thread per row
  /// takes no more than the rows need, rounded up to a warp.
  int64_t blockThreads(int64_t rows) const {
    return rowPerBlock ? threads : std::min(threads, (rows + 31) / 32 * 32);
  }
  /// The blocks launched for `rows` rows.
  int64_t blocks(int64_t rows) const {
    return rowPerBlock ? rows : (rows + blockThreads(rows) - 1) / blockThreads(rows);
  }
};

struct Kernel {
  std::string name; // the symbol in the kernel library (and the PTX entry)
  std::string op;   // the kiln op it computes
  GpuLaunch gpu;
  /// Scratch one CPU call needs beyond its small stack scratch: the
  /// runtime gives each calling thread a slab this large.
  int64_t workspaceBytes = 0;
};

/// What a thunk computes, for reports: its kernel's op, else its kind.
inline std::string thunkOp(const std::vector<Kernel> &kernels, const Thunk &t) {
  const KernelLaunch *k = t.as<KernelLaunch>();
  return k ? kernels[k->kernel].op : t.kindName();
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
  /// The arena the same step needs keeping every activation (kiln compile
  /// plans it with recompute none and no checkpoints); 0: not planned.
  int64_t arenaBytesWithoutRecompute = 0;
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
