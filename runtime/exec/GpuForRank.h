//===- GpuForRank.h - which visible GPU a rank opens --------------*- C++ -*-===//
//
// A rank either sees every GPU of its machine and takes the one at its
// LOCAL_RANK (mpirun, torchrun), or sees exactly one, the launcher's choice
// (srun --gpus-per-task=1, CUDA_VISIBLE_DEVICES set per rank), and takes
// that one whatever its local rank. Free of CUDA, so the rule is tested
// where there is no GPU.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_RUNTIME_EXEC_GPUFORRANK_H
#define KILN_RUNTIME_EXEC_GPUFORRANK_H

#include <string>

namespace kiln {

/// The index, among the `visible` GPUs, that the rank at `localRank` opens;
/// -1 with `error` when it has none of its own.
inline int gpuForRank(int localRank, int visible, std::string &error) {
  if (visible == 1)
    return 0;
  if (localRank < visible)
    return localRank;
  error = "this rank's LOCAL_RANK is " + std::to_string(localRank) + " but it sees " +
          std::to_string(visible) +
          " GPUs: start at most one rank per GPU, or give each rank one GPU "
          "(srun --gpus-per-task=1, or CUDA_VISIBLE_DEVICES per rank)";
  return -1;
}

} // namespace kiln

#endif // KILN_RUNTIME_EXEC_GPUFORRANK_H
