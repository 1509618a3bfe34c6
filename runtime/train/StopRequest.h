//===- StopRequest.h - a stop asked for by a signal ---------------*- C++ -*-===//
//
// kiln train's signal thread (SIGTERM at preemption, Ctrl-C) records here
// that the run should stop, with what the trainer was doing then and when;
// the trainer ends after the step in flight and reports both. Everything is
// a lock-free atomic: the two threads share it without a lock.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_RUNTIME_TRAIN_STOPREQUEST_H
#define KILN_RUNTIME_TRAIN_STOPREQUEST_H

#include <atomic>
#include <cstdint>
#include <ctime>

namespace kiln {

class StopRequest {
public:
  /// What the trainer is doing; the one current when the first signal came
  /// is reported ("received during evaluation").
  enum Phase : int { Starting, Stepping, Evaluating, Snapshotting, Finishing };

  static const char *phaseName(int phase) {
    static const char *const names[] = {"start", "step", "evaluation", "snapshot", "end"};
    return phase >= Starting && phase <= Finishing ? names[phase] : "?";
  }

  /// Records `signal` and returns true for the first one, false for any
  /// later one (the caller then ends the process).
  bool request(int signal) {
    timespec now{};
    ::clock_gettime(CLOCK_MONOTONIC, &now);
    int expected = 0;
    // Signal and phase in one word: whoever sees the signal sees its phase.
    if (!signalAndPhase.compare_exchange_strong(expected, signal | phase.load() << 8))
      return false;
    requestedAtNs.store(int64_t(now.tv_sec) * 1000000000 + now.tv_nsec);
    return true;
  }

  /// As the trainer goes: what it does from now on.
  void enter(Phase p) { phase.store(p); }

  /// The packed word (0 if no stop was asked): other ranks' arrive in it.
  int word() const { return signalAndPhase.load(); }
  static int signalOf(int word) { return word & 0xff; }
  static int phaseOf(int word) { return word >> 8; }

  /// Seconds since the first signal on this process (0 if none came here).
  double secondsSinceRequest() const {
    int64_t at = requestedAtNs.load();
    if (!at)
      return 0;
    timespec now{};
    ::clock_gettime(CLOCK_MONOTONIC, &now);
    return double(int64_t(now.tv_sec) * 1000000000 + now.tv_nsec - at) * 1e-9;
  }

private:
  std::atomic<int> signalAndPhase{0};
  std::atomic<int> phase{Starting};
  std::atomic<int64_t> requestedAtNs{0};
};

} // namespace kiln

#endif // KILN_RUNTIME_TRAIN_STOPREQUEST_H
