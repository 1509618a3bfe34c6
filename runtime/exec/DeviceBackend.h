//===- DeviceBackend.h - the GPU half of an executor ----------------*- C++ -*-===//
//
// When an artifact runs on a GPU, the device holds the persistent region,
// the arena and the kernels' workspace, and replays the thunks on its
// streams; the executor's host memory stays the mirror the runtime reads
// and writes (inputs, schedule values, sinks, parameters for snapshots),
// copied over where it is used. This header names no CUDA type, so the
// executor builds without the toolkit; runtime/cuda/ implements it.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_RUNTIME_EXEC_DEVICEBACKEND_H
#define KILN_RUNTIME_EXEC_DEVICEBACKEND_H

#include "runtime/artifact/Manifest.h"
#include "runtime/comm/Collectives.h"

#include <functional>
#include <memory>
#include <string>

namespace kiln {

class DeviceBackend {
public:
  virtual ~DeviceBackend() = default;
  /// "NVIDIA H100 80GB HBM3 (sm_90, PTX sm_90), cuBLAS 13.0, NCCL 2.28".
  virtual const std::string &description() const = 0;

  /// Host -> device, ordered before the thunks enqueued later.
  virtual void upload(Region region, int64_t offset, const void *host, int64_t bytes) = 0;
  /// Host -> device for the next run, off the compute stream: `host` goes
  /// to pinned memory and up on a copy stream into a staging area while
  /// the run in flight goes on. placeStaged() then moves all that was
  /// staged to its (region, offset), before the thunks enqueued after it.
  /// False when the staging area is full (this call staged nothing).
  virtual bool stage(Region region, int64_t offset, const void *host, int64_t bytes) = 0;
  virtual void placeStaged() = 0;
  /// Forgets what was staged: it will not be placed.
  virtual void discardStaged() = 0;
  /// Device -> host after everything enqueued so far.
  virtual void download(Region region, int64_t offset, void *host, int64_t bytes) = 0;
  /// Enqueues thunks [first, last) of `program`.
  virtual void enqueue(int program, size_t first, size_t last) = 0;
  /// Waits for everything enqueued. A device error, an NCCL error or an
  /// all-reduce that does not finish within the collectives' timeout ends
  /// the run with the message (it never hangs).
  virtual void synchronize() = 0;
  /// Keeps / puts back a device copy of the persistent region.
  virtual void savePersistent() = 0;
  virtual void restorePersistent() = 0;

  /// Collectives over device memory between `host`'s ranks (NCCL, its id
  /// exchanged through `host`, which stays for set-up calls); `host`
  /// itself for one rank. Null with `error`.
  virtual std::unique_ptr<Collectives> connect(std::unique_ptr<Collectives> host,
                                               std::string &error) = 0;
};

/// What the backend asks of its executor.
struct DeviceHooks {
  /// Fills a Random thunk's buffer in the host mirror (the CPU's counter-
  /// based streams, so both devices draw the same numbers).
  std::function<void(const RandomFill &)> fillRandom;
  /// A buffer's memory in the host mirror.
  std::function<void *(int64_t)> hostData;
  /// The collectives the all-reduce thunks use (null: one rank).
  std::function<Collectives *()> comm;
  /// Ends the run with a message (all ranks when there are several).
  std::function<void(const std::string &)> fail;
};

/// Opens GPU `device` (the rank's LOCAL_RANK) for the artifact in `dir`:
/// loads the PTX for its architecture, allocates the device memory and
/// uploads `persistent` (the host mirror). Null with `error` naming the
/// problem (no CUDA in this build, no GPU, no PTX for this GPU).
std::unique_ptr<DeviceBackend> openCudaBackend(const std::string &dir, const Manifest &m,
                                               int device, const uint8_t *persistent,
                                               DeviceHooks hooks, std::string &error);

} // namespace kiln

#endif // KILN_RUNTIME_EXEC_DEVICEBACKEND_H
