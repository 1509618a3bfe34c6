//===- Rendezvous.h - forming a torchrun-style job over TCP -------*- C++ -*-===//
//
// Rank 0 listens on MASTER_PORT at the address MASTER_ADDR resolves to (or
// every interface with --listen-any) and admits a connection as rank r only
// after the handshake (runtime/comm/Handshake.h): this job, this world
// size, this model, the secret proven. Each connection's handshake has its
// own deadline and is read without blocking the others, so a silent, slow
// or hostile client costs rank 0 nothing and --comm-timeout holds; such
// clients are logged with their address and dropped. The other ranks
// connect, retrying while rank 0 is not up, and check that rank 0 proves
// the secret too.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_RUNTIME_COMM_RENDEZVOUS_H
#define KILN_RUNTIME_COMM_RENDEZVOUS_H

#include "runtime/comm/World.h"

#include <string>
#include <vector>

namespace kiln {

/// Seconds a connection has to complete its handshake with rank 0.
constexpr double kHandshakeSeconds = 5;

/// Connects the ranks: on rank 0 `peers[r]` becomes the socket to rank r,
/// on the others `peers[0]` the socket to rank 0. False with `error` when
/// the job does not form within `timeoutSeconds` or this rank is refused.
bool rendezvous(const World &world, double timeoutSeconds, std::vector<int> &peers,
                std::string &error);

/// The job id both sides hash into the Hello: world.jobId, else
/// MASTER_ADDR:MASTER_PORT (the model is compared on its own, so that a
/// rank given another artifact hears that, not "another job").
std::string jobIdOf(const World &world);

/// What the handshake compares as the model: the CRC-32 of OUT.kiln's
/// manifest, or of MODEL.json followed by the options it is compiled with
/// (the manifests are compared again once compiled). 0 if unreadable.
uint32_t modelCrcOf(const std::string &model, const std::string &compileOptions);

} // namespace kiln

#endif // KILN_RUNTIME_COMM_RENDEZVOUS_H
