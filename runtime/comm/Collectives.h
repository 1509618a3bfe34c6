//===- Collectives.h - what data-parallel training needs from a transport -*- C++ -*-===//
//
// One implementation per transport: Local (one rank, no communication),
// MPI (mpirun, srun; CPU buffers), TCP (torchrun-style variables); the
// CUDA backend's NCCL implements the same calls on device buffers. The
// executor starts a bucket's all-reduce at its AllReduceStart thunk, calls
// progress() between thunks and waits at its AllReduceWait thunk; every
// rank runs the same program, so the calls match by construction.
// Reduce-scatter and all-gather, for optimizer state sharded over the
// ranks, work on `ranks` blocks of `count` elements, rank r's at
// data + r·count.
//
// A peer that dies or stalls must not hang the job: every wait gives up
// after `timeoutSeconds` and fail() ends all ranks with the message.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_RUNTIME_COMM_COLLECTIVES_H
#define KILN_RUNTIME_COMM_COLLECTIVES_H

#include "runtime/artifact/DType.h"
#include "runtime/comm/World.h"

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace kiln {

class Collectives {
public:
  explicit Collectives(World world, double timeoutSeconds)
      : world_(std::move(world)), timeoutSeconds(timeoutSeconds) {}
  virtual ~Collectives() = default;
  const World &world() const { return world_; }
  /// Seconds any wait for the other ranks may take.
  double timeout() const { return timeoutSeconds; }

  /// Starts summing `count` elements of `dtype` at `data` in place over
  /// the ranks; `bucket` identifies it to wait. F32, or BF16 for
  /// compressed gradients: each transport adds bf16 in f32 and rounds to
  /// nearest even (MPI and NCCL after each addition, TCP once at the end),
  /// so two ranks give round(a + b) everywhere.
  virtual void startAllReduce(int64_t bucket, DType dtype, void *data, int64_t count) = 0;
  /// Starts summing the ranks' `data` (ranks·count elements) so that block
  /// `rank` of this rank's `data` holds that block's sum (the other blocks
  /// are left as they are or scratch). A block's sum has the bits the
  /// all-reduce would give it (at any world size over TCP and MPI, which
  /// all-reduces the bucket; at two ranks over NCCL, whose orders may
  /// differ beyond that).
  virtual void startReduceScatter(int64_t id, DType dtype, void *data, int64_t count) = 0;
  /// Starts giving every rank every rank's block of `data` (ranks·count
  /// elements; each rank's own block is its contribution).
  virtual void startAllGather(int64_t id, DType dtype, void *data, int64_t count) = 0;
  /// Returns when collective `id` is complete (fail() on timeout).
  virtual void wait(int64_t id) = 0;
  /// Lets in-flight all-reduces advance (MPI progresses only inside calls).
  virtual void progress() {}

  /// Blocking, on host memory: every rank's `bytes`-byte block of `data`
  /// (ranks·bytes; this rank's block is its contribution), exact bits:
  /// gathering sharded state, set-up values.
  virtual void allGatherBytes(void *data, int64_t bytes) = 0;
  /// Blocking, for set-up: every rank's `value`, by rank.
  std::vector<uint64_t> allGather(uint64_t value) {
    std::vector<uint64_t> all(world_.size);
    all[world_.rank] = value;
    allGatherBytes(all.data(), sizeof value);
    return all;
  }
  /// Blocking: sums `count` doubles in place (evaluation counts).
  virtual void allReduceSum(double *data, int64_t count) = 0;

  /// Ends this rank and, as far as the transport can, every other one,
  /// after printing "kiln: rank R: message".
  [[noreturn]] virtual void fail(const std::string &message) = 0;

protected:
  World world_;
  double timeoutSeconds;
};

/// The transport `world.launcher` calls for: Local for one rank, MPI under
/// mpirun or srun, TCP for torchrun-style variables. Null with `error`
/// when it cannot be set up (no MPI in this build, MASTER_ADDR unresolvable,
/// rank 0 not reachable within the timeout).
std::unique_ptr<Collectives> connectRanks(const World &world, double timeoutSeconds,
                                          std::string &error);

} // namespace kiln

#endif // KILN_RUNTIME_COMM_COLLECTIVES_H
