//===- World.h - this process's place among the ranks ------------*- C++ -*-===//
//
// Read from the launcher's environment, first match wins:
//   mpirun (Open MPI)  OMPI_COMM_WORLD_RANK / _SIZE / _LOCAL_RANK
//   srun (SLURM)       SLURM_PROCID / SLURM_NTASKS / SLURM_LOCALID
//   torchrun-style     RANK / WORLD_SIZE / LOCAL_RANK, MASTER_ADDR / MASTER_PORT
// and none of them: one rank.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_RUNTIME_COMM_WORLD_H
#define KILN_RUNTIME_COMM_WORLD_H

#include <functional>
#include <string>

namespace kiln {

struct World {
  int rank = 0, size = 1, localRank = 0;
  /// Ranks on this machine (OMPI_COMM_WORLD_LOCAL_SIZE, LOCAL_WORLD_SIZE,
  /// SLURM_NTASKS_PER_NODE; 1 when the launcher does not say).
  int localSize = 1;
  /// "single", "mpirun", "srun" or "torchrun": which variables were read.
  std::string launcher = "single";
  /// torchrun-style only: where rank 0 listens.
  std::string masterAddr;
  int masterPort = 0;
  /// torchrun-style only, what the rendezvous checks (runtime/comm/
  /// Handshake.h): the job (KILN_JOB_ID, else SLURM_JOB_ID, else
  /// TORCHELASTIC_RUN_ID; empty: derived from MASTER_ADDR:MASTER_PORT and
  /// the model) and the variable it came from; the secret from
  /// KILN_JOB_SECRET or the file KILN_JOB_SECRET_FILE names (empty: none).
  std::string jobId, jobIdFrom, secret;
  /// Set by the command: the CRC-32 of what this rank runs (the artifact's
  /// manifest, or MODEL.json with the compile options), and whether rank 0
  /// listens on every interface rather than MASTER_ADDR's (--listen-any).
  uint32_t modelCrc = 0;
  bool listenAny = false;
};

/// The world described by `getenv` (the process environment by default);
/// false with `error` naming the variable when one is malformed or the
/// values disagree (a rank outside [0, size)), or when the secret's file
/// cannot be read or others may read it.
bool detectWorld(World &world, std::string &error,
                 const std::function<const char *(const char *)> &getenv = nullptr);

} // namespace kiln

#endif // KILN_RUNTIME_COMM_WORLD_H
