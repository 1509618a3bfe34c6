//===- DeviceWait.h - waiting for a device that may wait on a peer -*- C++ -*-===//
//
// A GPU stream can wait on an all-reduce that a dead or stalled rank never
// completes. A blocking wait (a stream synchronise, or a copy into
// pageable memory, which waits for the stream) would then hang the process
// past --comm-timeout, before progress() or an abort could run. Every wait
// of a device backend on several ranks polls here instead, downloads
// included (they wait before their copy), so the timeout holds. Header
// only: the CUDA plugin does not link the runtime library.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_RUNTIME_EXEC_DEVICEWAIT_H
#define KILN_RUNTIME_EXEC_DEVICEWAIT_H

#include "runtime/comm/Collectives.h"

#include <chrono>
#include <functional>
#include <string>
#include <thread>

namespace kiln {

/// Returns once `done()` says the device has finished what was enqueued,
/// letting `comm`'s transfers progress meanwhile; when `comm`'s timeout
/// passes first, ends the run through comm.fail("WHAT did not finish
/// within N s: WHY").
inline void waitForDevice(Collectives &comm, const std::function<bool()> &done,
                          const std::string &what, const std::string &why) {
  auto start = std::chrono::steady_clock::now();
  while (!done()) {
    comm.progress();
    double waited =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (waited > comm.timeout())
      comm.fail(what + " did not finish within " + std::to_string((int)comm.timeout()) +
                " s: " + why);
    std::this_thread::sleep_for(std::chrono::microseconds(50));
  }
}

} // namespace kiln

#endif // KILN_RUNTIME_EXEC_DEVICEWAIT_H
