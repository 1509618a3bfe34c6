//===- Transports.h - the transports behind connectRanks ---------*- C++ -*-===//
#ifndef KILN_RUNTIME_COMM_TRANSPORTS_H
#define KILN_RUNTIME_COMM_TRANSPORTS_H

#include "runtime/comm/Collectives.h"

namespace kiln {

/// MPI_COMM_WORLD (mpirun, srun); an error when this build has no MPI.
std::unique_ptr<Collectives> connectMpi(const World &world, double timeoutSeconds,
                                        std::string &error);
/// Sockets to rank 0 at MASTER_ADDR:MASTER_PORT (torchrun-style).
std::unique_ptr<Collectives> connectTcp(const World &world, double timeoutSeconds,
                                        std::string &error);

} // namespace kiln

#endif // KILN_RUNTIME_COMM_TRANSPORTS_H
