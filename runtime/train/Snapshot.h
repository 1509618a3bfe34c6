//===- Snapshot.h - what a run needs to go on exactly after a kill -*- C++ -*-===//
//
// RUNDIR/snapshots/step-NNNNNNNNN.safetensors holds every parameter
// ("param:NAME") and state tensor ("state:NAME": optimizer moments and
// step counts, the DINO centre); its metadata holds the step (which fixes
// the epoch, the sampler's position and every random draw, all keyed by
// (seed, step)), the seed, the world size, the artifact's manifest CRC-32,
// the training key (what makes two artifacts train the same thing) and a
// CRC-32 of the tensor data. Tensors are whole, sharded state too. It is written to a temporary file,
// fsynced and renamed, so a kill at any moment leaves either the old set
// or the new file whole.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_RUNTIME_TRAIN_SNAPSHOT_H
#define KILN_RUNTIME_TRAIN_SNAPSHOT_H

#include "runtime/artifact/Safetensors.h"

#include <cstdint>
#include <string>
#include <vector>

namespace kiln {

struct SnapshotInfo {
  int64_t step = 0; // steps done
  uint64_t seed = 0;
  int worldSize = 1;
  std::string artifactCrc; // the manifest's CRC-32, hex
  std::string trainingKey; // the artifact's (Manifest::trainingKey), hex
  std::string runId;       // the run directory's (run.json); others' are skipped
};



/// The snapshot files of `runDir` (RUNDIR/snapshots/step-*.safetensors),
/// oldest first.
std::vector<std::string> snapshotFiles(const std::string &runDir);

/// Writes the snapshot of `info.step` into `runDir`/snapshots and keeps
/// the newest `keep`; false with `error` (the previous snapshots intact).
/// Takes the tensors, which it writes without copying.
bool writeSnapshot(const std::string &runDir, const SnapshotInfo &info, TensorMap params,
                   TensorMap state, int keep, std::string &error);

/// The newest snapshot in `runDir` that reads back whole. Damaged ones
/// (truncated, checksum, header) are skipped with a line in `warnings`
/// naming the file and the damage. False with `error` when the newest good
/// one belongs to another training key (or, without a key, another
/// artifact or world size) or seed; true with `found` false when there is
/// none.
bool loadNewestSnapshot(const std::string &runDir, const SnapshotInfo &expected, bool &found,
                        SnapshotInfo &info, TensorMap &params, TensorMap &state,
                        std::vector<std::string> &warnings, std::string &error);

} // namespace kiln

#endif // KILN_RUNTIME_TRAIN_SNAPSHOT_H
