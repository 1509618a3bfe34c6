//===- Executor.h - load an artifact and replay its thunks ---------*- C++ -*-===//
//
// Loading validates everything before any memory is touched: the manifest
// (checksum, version, structure), every file's size and CRC-32, the CPU
// features the kernels were compiled for, the kernel symbols. Then the
// persistent region (parameters, state, inputs, schedule values, constants)
// and one arena for the temporaries of whichever program runs are
// allocated, and parameters and state are read from the artifact.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_RUNTIME_EXEC_EXECUTOR_H
#define KILN_RUNTIME_EXEC_EXECUTOR_H

#include "runtime/artifact/Manifest.h"
#include "runtime/artifact/Safetensors.h"
#include "runtime/artifact/ShardLayout.h"
#include "runtime/comm/Collectives.h"
#include "runtime/exec/Blas.h"
#include "runtime/exec/Convolution.h"
#include "runtime/exec/CpuGemms.h"
#include "runtime/exec/DeviceBackend.h"
#include "runtime/exec/ThreadPool.h"

#include <memory>
#include <set>
#include <utility>
#include <vector>

namespace kiln {

/// What a PyTorch state_dict of the networks holds: every parameter and
/// every module state tensor (batch norm's running statistics), which is
/// state named under a network that has parameters ("net.bn1.running_mean");
/// not the optimizer's state nor the objective's own (the DINO centre).
TensorMap networkTensors(const TensorMap &params, const TensorMap &state);

class Executor {
public:
  /// Loads `dir` (an OUT.kiln directory) to run on `threads` threads, or
  /// on GPU `cudaDevice` (the rank's LOCAL_RANK) when it is not -1, opened
  /// by `openDevice` (tests give another device); null with `error`
  /// naming the file and the problem.
  using DeviceOpener = std::function<std::unique_ptr<DeviceBackend>(
      const std::string &dir, const Manifest &, int device, const uint8_t *persistent,
      DeviceHooks, std::string &error)>;
  static std::unique_ptr<Executor> load(const std::string &dir, int threads,
                                        std::string &error, int cudaDevice = -1,
                                        const DeviceOpener &openDevice = openCudaBackend);
  ~Executor();

  const Manifest &manifest() const { return m; }
  /// The GEMM library and the kernels it runs ("OpenBLAS ... (core ...)").
  const std::string &blasDescription() const { return blas->description; }
  int threads() const { return pool.size(); }
  /// The GPU the thunks run on, or null on the CPU. Its memory is the
  /// truth; this executor's (data()) mirrors it where the runtime reads and
  /// writes: inputs and schedules go over before each run, sinks come back
  /// after it, parameters and state when asked for (tensors()).
  DeviceBackend *device() const { return gpu.get(); }

  /// Makes `ranks` (the host transport, from connectRanks) what the
  /// all-reduce thunks use (`comm`); on a GPU it is first replaced by NCCL
  /// collectives over it (the NCCL id exchanged through it). The caller
  /// keeps owning it. False with `error` (`ranks` then null), also when
  /// checkShardRanks fails.
  bool useCollectives(std::unique_ptr<Collectives> &ranks, std::string &error);
  /// False with `error` when the artifact shards its optimizer over
  /// another number of ranks than `world` (kiln compile --shard-optimizer).
  bool checkShardRanks(int world, std::string &error) const;

  /// The program with this entry ("train_step", "eval"), or -1.
  int program(const std::string &entry) const;
  /// Runs every thunk of the program once: start() then finish().
  void run(int program);
  /// Starts a run: the host-written buffers go to the GPU (those staged
  /// for it are moved into place instead) and the thunks are enqueued; on
  /// the CPU the run happens here.
  void start(int program);
  /// Waits for the run started and brings its sinks back from the GPU.
  void finish(int program);
  /// On a GPU: uploads the next run of `program`'s inputs, (buffer, bytes
  /// at host) each, while the current run goes on (pinned memory, a copy
  /// stream); that run reads them instead of data()'s. False on the CPU or
  /// when they do not fit: nothing is staged, write them to data().
  bool stageInputs(int program, const std::vector<std::pair<int64_t, const void *>> &inputs);
  /// Runs thunks [first, last) of the program, without the host<->GPU
  /// copies run() makes around them.
  void runThunks(int program, size_t first, size_t last);

  /// The memory of a buffer.
  void *data(int64_t buffer) const;
  template <typename T> T *as(int64_t buffer) const { return static_cast<T *>(data(buffer)); }
  /// The persistent buffer of a parameter or state tensor, or -1.
  int64_t bufferNamed(const std::string &name, const std::string &kind) const;
  /// The buffer a sink of a program reads, or -1.
  int64_t sinkBuffer(int program, const std::string &kind, const std::string &name) const;

  /// Copies tensors (parameters, state) in by name; false with `error` on
  /// an unknown name or a shape mismatch.
  bool setTensors(const TensorMap &tensors, const std::string &kind, const std::string &from,
                  std::string &error);
  /// Parameters or state as safetensors entries. Sharded state
  /// (--shard-optimizer) is gathered whole, which every rank must call
  /// for; `sharded` false leaves it out (no collective).
  TensorMap tensors(const std::string &kind, bool sharded = true) const;
  /// The networks' tensors as a PyTorch state_dict holds them (see
  /// networkTensors below).
  TensorMap networkTensors() const {
    return kiln::networkTensors(tensors("param"), tensors("state", false));
  }
  /// Copies tensors named as networkTensors' in, each into its parameter
  /// or state buffer; false with `error` on any other name or a shape
  /// mismatch.
  bool setNetworkTensors(const TensorMap &tensors, const std::string &from, std::string &error);

  /// What random thunks (kiln.random_uniform: stochastic depth) draw from:
  /// the same (seed, step) gives the same numbers. A tensor whose rows are
  /// whole copies of the rank's batch (count × batch leading rows, view
  /// major) draws what world size 1 would draw for those images, so runs at
  /// any world size agree; other shapes draw per rank.
  struct RandomKey {
    uint64_t seed = 0, step = 0;
  } randomKey;

  /// The ranks the all-reduce thunks average over; null or one rank: they
  /// only copy. Not owned.
  Collectives *comm = nullptr;
  int worldSize() const { return comm ? comm->world().size : 1; }
  int rank() const { return comm ? comm->world().rank : 0; }

  /// Keeps a copy of every parameter and state tensor (before a step), and
  /// puts it back (to run that step again).
  void saveTrainedState();
  void restoreTrainedState();
  /// Whether every parameter and state value is finite.
  bool trainedStateFinite() const;
  /// Runs the program thunk by thunk and returns the index of the first
  /// whose f32 outputs hold a NaN or an infinity, or -1.
  int64_t runUntilNonFinite(int program);

  /// The largest difference between a thunk's outputs on the GPU and on
  /// the CPU, relative to the CPU's largest magnitude, each thunk run on
  /// both from the same inputs (the CPU's outputs then go to the GPU, so
  /// errors do not carry over).
  struct ThunkDifference {
    size_t thunk;
    double relative;
  };
  std::vector<ThunkDifference> compareWithDevice(int program);

  /// Per-thunk wall time accumulated by run() when profiling is on.
  std::vector<double> thunkSeconds;
  bool profile = false;

  /// What one thread did of a thunk in a traced run (seconds from the
  /// run's start): thread 0 runs the thunks one after another (on a GPU,
  /// each until the device is done), threads 1.. their share of its chunks.
  struct TraceEvent {
    size_t thunk;
    int thread;
    double begin, end;
  };
  /// When set, run() appends each thunk's events to it (kiln bench --trace).
  std::vector<TraceEvent> *trace = nullptr;

private:
  explicit Executor(int threads) : pool(threads) {}
  void runThunk(const Thunk &t, void **kernelArgs);
  void fillRandom(const RandomFill &fill);
  StoredTensor wholeOf(const Buffer &b, const StoredTensor &mine) const;
  /// This rank's chunk of `whole` (`wholeBytes`) into buffer `to`, zero-padded.
  void copyOwnChunk(const uint8_t *whole, int64_t wholeBytes, int64_t to);
  /// copy(to, from, bytes) for each row of `copies`, into the bucket of
  /// `t` (`toBucket`) or out of it.
  template <typename Copy>
  void copySegments(const std::vector<SegmentCopy> &copies, const BucketTransfer &t,
                    bool toBucket, Copy &&copy);
  /// Starts `start` on the packed bucket (count: a segment's elements);
  /// nothing at world size 1.
  void startCollective(const BucketTransfer &t,
                       void (Collectives::*start)(int64_t, DType, void *, int64_t),
                       int64_t segments);
  /// savedState <- parameters and state (save), or back.
  void copyTrainedState(bool save);
  /// Host mirror <-> GPU for a buffer (no-ops on the CPU).
  void toDevice(int64_t buffer) const;
  void fromDevice(int64_t buffer) const;
  /// To the GPU, what the runtime writes before `program` runs: its
  /// inputs (but those staged for it) and the schedule values.
  void uploadHostWritten(int program) const;
  void discardStaged();

  Manifest m;
  ThreadPool pool;
  Blas *blas = nullptr;
  void *library = nullptr;
  std::vector<void (*)(void **, int64_t, int64_t, uint8_t *)> kernels;
  uint8_t *persistent = nullptr, *arena = nullptr;
  // Each pool thread's slab for the kernels' large scratch (Kernel::workspaceBytes).
  uint8_t *workspace = nullptr;
  int64_t workspaceSlab = 0;
  std::unique_ptr<DeviceBackend> gpu;
  // The program whose next run has inputs staged on the GPU, and which.
  int stagedProgram = -1;
  std::set<int64_t> stagedBuffers;
  std::vector<uint8_t> savedState; // saveTrainedState's copy, buffer after buffer
  // Per program, per thunk: a kernel's argument pointers (else none).
  std::vector<std::vector<std::vector<void *>>> pointers;
  CpuGemms gemms;
  CpuConvolutions convolutions;
};

} // namespace kiln

#endif // KILN_RUNTIME_EXEC_EXECUTOR_H
