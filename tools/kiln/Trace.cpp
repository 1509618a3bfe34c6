//===- Trace.cpp - kiln bench --trace: one step as Chrome trace events ----===//
#include "Trace.h"

#include "runtime/artifact/DurableFile.h"

#include <nlohmann/json.hpp>

#include <map>

namespace kiln {

namespace {

/// The communication track's thread id (after the pool's threads).
int commTrack(int threads) { return threads; }

double micros(double seconds) { return 1e6 * seconds; }

/// What a collective does to its bucket, for the event's name.
const char *collectiveName(const Thunk &t) {
  if (t.is<AllReduceWait>())
    return "all-reduce";
  if (t.is<ReduceScatterWait>())
    return "reduce-scatter";
  return "all-gather";
}

} // namespace

bool writeTrace(const Manifest &m, int program, const std::vector<Executor::TraceEvent> &events,
                int threads, bool cuda, int rank, const std::string &path, std::string &error) {
  const Program &p = m.compiled.programs[program];
  nlohmann::ordered_json out = nlohmann::ordered_json::array();
  auto name = [&](int tid, const std::string &what) {
    out.push_back({{"ph", "M"}, {"name", "thread_name"}, {"pid", rank}, {"tid", tid},
                   {"args", {{"name", what}}}});
  };
  out.push_back({{"ph", "M"}, {"name", "process_name"}, {"pid", rank}, {"tid", 0},
                 {"args", {{"name", m.model + " " + p.entry + ", rank " + std::to_string(rank)}}}});
  name(0, cuda ? "CUDA stream (each thunk until the device finished it)" : "thread 0: thunks");
  for (int t = 1; t < (cuda ? 1 : threads); ++t)
    name(t, "thread " + std::to_string(t) + ": chunks");
  name(commTrack(threads), "communication");

  // Each bucket's collective runs from its start's beginning to its wait's end.
  std::map<int64_t, double> started; // bucket -> start thunk's begin
  for (const Executor::TraceEvent &e : events) {
    const Thunk &t = p.thunks[e.thunk];
    nlohmann::ordered_json args = {{"thunk", e.thunk},
                                   {"kind", thunkOp(m.compiled.kernels, t)},
                                   {"node", t.ops.empty() ? "" : t.ops.front()}};
    if (e.thread == 0) {
      args["mbytes"] = t.trafficBytes / 1e6;
      args["gflop"] = t.flops / 1e9;
    }
    out.push_back({{"ph", "X"}, {"name", t.label()}, {"cat", t.kindName()}, {"pid", rank},
                   {"tid", e.thread}, {"ts", micros(e.begin)}, {"dur", micros(e.end - e.begin)},
                   {"args", args}});
    const BucketTransfer *bucket = e.thread == 0 ? bucketTransfer(t) : nullptr;
    if (!bucket)
      continue;
    if (!isCollectiveWait(t)) {
      started[bucket->bucket] = e.begin;
      continue;
    }
    auto s = started.find(bucket->bucket);
    if (s == started.end())
      continue;
    const Buffer &packed = m.compiled.buffers[bucket->bucketBuffer];
    out.push_back({{"ph", "X"},
                   {"name", std::string(collectiveName(t)) + " bucket " + std::to_string(bucket->bucket)},
                   {"cat", "collective"},
                   {"pid", rank},
                   {"tid", commTrack(threads)},
                   {"ts", micros(s->second)},
                   {"dur", micros(e.end - s->second)},
                   {"args",
                    {{"bucket", bucket->bucket},
                     {"bytes", packed.bytes},
                     {"dtype", dtypeName(packed.dtype)},
                     {"tensors", bucket->tensors.size()}}}});
    started.erase(s);
  }
  nlohmann::ordered_json trace = {{"traceEvents", out},
                                  {"displayTimeUnit", "ms"},
                                  {"otherData",
                                   {{"model", m.model},
                                    {"program", p.entry},
                                    {"thunks", p.thunks.size()},
                                    {"threads", threads},
                                    {"device", cuda ? "cuda" : "cpu"}}}};
  return writeFileAtomically(path, {trace.dump(1) + "\n"}, error);
}

} // namespace kiln
