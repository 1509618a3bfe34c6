//===- Sockets.h - deadline-bounded socket transfers ---------------*- C++ -*-===//
//
// What the TCP transport and its rendezvous both need of a socket: wait
// for it until a deadline, and move exactly N bytes before one, so that no
// peer, silent or slow, can hold a rank past its timeout.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_RUNTIME_COMM_SOCKETS_H
#define KILN_RUNTIME_COMM_SOCKETS_H

#include <chrono>
#include <cstddef>

namespace kiln {

using SocketClock = std::chrono::steady_clock;

/// The time `seconds` from now.
SocketClock::time_point deadlineAfter(double seconds);

/// Milliseconds from now to `t` for poll(): at least 0, rounded up.
int millisecondsUntil(SocketClock::time_point t);

/// Waits until `fd` is ready for `events` (POLLIN, POLLOUT); false when
/// `deadline` passes first.
bool waitReady(int fd, short events, SocketClock::time_point deadline);

/// How a transfer ended: all bytes moved, the deadline passed, or the peer
/// closed the connection or failed (`error`: its errno, 0 for a close).
struct Transfer {
  enum Outcome { Done, TimedOut, Closed } outcome = Done;
  int error = 0;
};

/// Sends (`send`) or receives exactly `size` bytes before `deadline`.
Transfer transferAll(int fd, void *data, size_t size, bool send,
                     SocketClock::time_point deadline);

} // namespace kiln

#endif // KILN_RUNTIME_COMM_SOCKETS_H
