//===- Trace.h - kiln bench --trace: one step as Chrome trace events -*- C++ -*-===//
//
// The events Executor::trace recorded for one step, as the trace-event
// JSON that Perfetto (ui.perfetto.dev) and chrome://tracing open: a track
// per thread (thread 0 runs the thunks, the others their share of each
// thunk's chunks; on a GPU one track, the stream, each thunk timed until
// the device finished it), each event named by the thunk's kernel and
// JSON node, and a communication track with each bucket's collective from
// its start to the end of its wait.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_TOOLS_TRACE_H
#define KILN_TOOLS_TRACE_H

#include "runtime/exec/Executor.h"

#include <string>
#include <vector>

namespace kiln {

/// Writes `events` (one run of `program`) to `path`; false with `error`.
bool writeTrace(const Manifest &m, int program, const std::vector<Executor::TraceEvent> &events,
                int threads, bool cuda, int rank, const std::string &path, std::string &error);

} // namespace kiln

#endif // KILN_TOOLS_TRACE_H
