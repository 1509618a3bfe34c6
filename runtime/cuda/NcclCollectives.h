//===- NcclCollectives.h - collectives of device buffers over NCCL -*- C++ -*-===//
//
// The Collectives of a GPU run: NCCL sums and gathers device memory on a
// communication stream; the id that joins the ranks is exchanged through
// the host transport (MPI under mpirun/srun, the TCP bootstrap at
// MASTER_ADDR:MASTER_PORT torchrun-style), which also keeps serving the
// set-up calls (allGather, allReduceSum) and ending all ranks on failure.
//
// Each collective (all-reduce, reduce-scatter, all-gather) starts after
// everything the compute stream has enqueued (the packed bucket); wait
// makes the compute stream (not the host) wait for it, so a bucket's
// all-reduce overlaps the rest of backward. NCCL's asynchronous errors are
// polled by progress().
//
//===----------------------------------------------------------------------===//
#ifndef KILN_RUNTIME_CUDA_NCCLCOLLECTIVES_H
#define KILN_RUNTIME_CUDA_NCCLCOLLECTIVES_H

#include "runtime/comm/Collectives.h"

#include <cuda_runtime.h>

#include <memory>

namespace kiln {

/// NCCL collectives for `host`'s ranks, ordered against `compute`. Null
/// with `error` when the communicator cannot be set up within the
/// host's timeout.
std::unique_ptr<Collectives> connectNccl(std::unique_ptr<Collectives> host, cudaStream_t compute,
                                         std::string &error);

} // namespace kiln

#endif // KILN_RUNTIME_CUDA_NCCLCOLLECTIVES_H
