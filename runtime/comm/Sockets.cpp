//===- Sockets.cpp - deadline-bounded socket transfers --------------------===//
#include "runtime/comm/Sockets.h"

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <poll.h>
#include <sys/socket.h>

namespace kiln {

SocketClock::time_point deadlineAfter(double seconds) {
  return SocketClock::now() + std::chrono::duration_cast<SocketClock::duration>(
                                  std::chrono::duration<double>(seconds));
}

int millisecondsUntil(SocketClock::time_point t) {
  auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(t - SocketClock::now()).count();
  return static_cast<int>(std::clamp<int64_t>(ms + 1, 0, 1 << 30));
}

bool waitReady(int fd, short events, SocketClock::time_point deadline) {
  pollfd pfd{fd, events, 0};
  int rc;
  while ((rc = poll(&pfd, 1, millisecondsUntil(deadline))) < 0 && errno == EINTR)
    ;
  return rc > 0;
}

Transfer transferAll(int fd, void *data, size_t size, bool send,
                     SocketClock::time_point deadline) {
  auto *p = static_cast<char *>(data);
  while (size > 0) {
    if (!waitReady(fd, send ? POLLOUT : POLLIN, deadline))
      return {Transfer::TimedOut, 0};
    ssize_t n = send ? ::send(fd, p, size, MSG_NOSIGNAL) : recv(fd, p, size, 0);
    if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN))
      return {Transfer::Closed, n < 0 ? errno : 0};
    if (n > 0) {
      p += n;
      size -= n;
    }
  }
  return {};
}

} // namespace kiln
