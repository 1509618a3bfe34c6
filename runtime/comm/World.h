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
};

/// The world described by `getenv` (the process environment by default);
/// false with `error` naming the variable when one is malformed or the
/// values disagree (a rank outside [0, size)).
bool detectWorld(World &world, std::string &error,
                 const std::function<const char *(const char *)> &getenv = nullptr);

} // namespace kiln

#endif // KILN_RUNTIME_COMM_WORLD_H
