//===- Bench.cpp - kiln bench ------------------------------------------------===//
//
// Times the train step of an artifact as ref.py's bench-one does: batches
// generated beforehand (data excluded), `--warmup` steps, then the median
// and 90th percentile of `--steps`; prints one JSON line with them, the
// images/s, the process's peak resident memory, the step's FLOPs (from the
// thunks) and the rate they run at, and the BLAS library in use. Optionally profiles where the time goes
// per thunk kind.
//
// --trace FILE.json writes one more step as Chrome trace events (Trace.h).
//
// With --device cuda the step runs on the rank's GPU; --check first runs
// every thunk of one step on the GPU and on the CPU from the same inputs
// and reports the largest relative difference (exit 1 above --tolerance).
//
// Under mpirun (or torchrun-style variables) every rank runs its share of
// the global batch and rank 0 reports, adding the all-reduce: the time the
// waits blocked per step, what the same buckets cost when nothing overlaps
// them (each all-reduced alone, start then wait), and so the fraction of
// the communication hidden behind backward.
//
//===----------------------------------------------------------------------===//
#include "CommandLine.h"
#include "Dataset.h"
#include "Subcommands.h"
#include "Trace.h"

#include "runtime/artifact/DurableFile.h"
#include "runtime/comm/Collectives.h"
#include "runtime/comm/Rendezvous.h"
#include "runtime/data/Loader.h"
#include "runtime/exec/Executor.h"
#include "runtime/train/Schedule.h"
#include "runtime/train/Trainer.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <sys/resource.h>
#include <thread>

namespace kiln {
namespace {

/// Per bucket and step: the time its wait blocked (from the profile of the
/// timed steps) against the bucket's collective run alone, `steps` times (its
/// median). A bucket is hidden by the part of its alone time its wait did
/// not block; the first wait also absorbs the ranks' drift (the other rank
/// arriving later), which only makes its bucket look less hidden.
nlohmann::ordered_json measureAllReduce(Executor &exec, int program, int64_t steps) {
  const CompiledModel &c = exec.manifest().compiled;
  const Program &p = c.programs[program];
  double blocked = 0, alone = 0, hidden = 0, bytes = 0;
  nlohmann::ordered_json perWait = nlohmann::ordered_json::array(),
                         perAlone = nlohmann::ordered_json::array();
  for (size_t i = 0; i < p.thunks.size(); ++i) {
    const Thunk &t = p.thunks[i];
    if (!isCollectiveWait(t))
      continue;
    const BucketTransfer *wait = bucketTransfer(t);
    const Buffer &packed = c.buffers[wait->bucketBuffer];
    int64_t n = packed.bytes / elementBytes(packed.dtype) / wait->ranks; // a segment
    auto start = t.is<AllReduceWait>()       ? &Collectives::startAllReduce
                 : t.is<ReduceScatterWait>() ? &Collectives::startReduceScatter
                                             : &Collectives::startAllGather;
    std::vector<uint8_t> bucket(packed.bytes); // zeros: the time does not depend on values
    std::vector<double> times;
    for (int64_t r = 0; r < steps; ++r) {
      auto t0 = std::chrono::steady_clock::now();
      (exec.comm->*start)(wait->bucket, packed.dtype, bucket.data(), n);
      exec.comm->wait(wait->bucket);
      times.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    }
    std::sort(times.begin(), times.end());
    double b = exec.thunkSeconds[i] / steps, a = times[times.size() / 2];
    blocked += b;
    alone += a;
    hidden += std::max(0.0, a - b);
    bytes += packed.bytes;
    perWait.push_back(1e3 * b);
    perAlone.push_back(1e3 * a);
  }
  return {{"buckets", perWait.size()},
          {"mbytes", bytes / 1e6},
          {"blocked_ms", 1e3 * blocked},
          {"blocked_ms_by_wait", perWait},
          {"alone_ms", 1e3 * alone},
          {"alone_ms_by_wait", perAlone},
          {"hidden_fraction", alone > 0 ? hidden / alone : 0.0}};
}

/// Every thunk of one step (its inputs fed) on the GPU and on the CPU
/// (Executor::compareWithDevice); prints the worst ones and a summary line.
bool checkAgainstCpu(Executor &exec, int program, double tolerance) {
  const Manifest &m = exec.manifest();
  auto diffs = exec.compareWithDevice(program);
  const Program &p = m.compiled.programs[program];
  std::sort(diffs.begin(), diffs.end(),
            [](auto &a, auto &b) { return a.relative > b.relative; });
  int64_t over = 0;
  for (const auto &d : diffs)
    over += !(d.relative <= tolerance);
  for (size_t k = 0; k < diffs.size() && k < 8; ++k) {
    const Thunk &t = p.thunks[diffs[k].thunk];
    std::fprintf(stderr, "  thunk %4zu %-28s %-24s relative difference %.3g\n", diffs[k].thunk,
                 thunkOp(m.compiled.kernels, t).c_str(), t.label().c_str(),
                 diffs[k].relative);
  }
  std::fprintf(stderr,
               "kiln bench: %zu thunks of %s checked against the CPU: largest relative "
               "difference %.3g, %lld above %.3g\n",
               diffs.size(), p.entry.c_str(), diffs.empty() ? 0.0 : diffs[0].relative,
               (long long)over, tolerance);
  return over == 0;
}

/// Batches kept for the timed steps, reused in turn.
constexpr int64_t kBatchRing = 16;

volatile std::sig_atomic_t interrupted = 0;

} // namespace

int benchMain(int argc, char **argv) {
  CommandLine cl("bench", "Times the train step: median, 90th percentile, images/s, peak "
                          "memory (one JSON line).");
  std::string artifact;
  std::optional<int64_t> stepsOption, warmupOption, threads;
  std::optional<std::string> device, tracePath;
  std::optional<double> toleranceOption;
  bool profile = false, bandwidth = false, check = false;
  DataOptions data;
  cl.positional("OUT.kiln", artifact, "the artifact");
  cl.integer("--steps", stepsOption, 1, 1000000, "timed steps (default 30)");
  cl.integer("--warmup", warmupOption, 0, 1000000, "untimed steps first (default 5)");
  cl.integer("--threads", threads, 1, 1024,
             "threads per rank (default: all cores / ranks on this machine)");
  data.declare(cl);
  cl.flag("--profile", profile, "time per kind of thunk and the slowest thunks");
  cl.flag("--bandwidth", bandwidth, "also measure this machine's copy bandwidth");
  cl.text("--trace", tracePath, "write one more step as Chrome trace events (Perfetto) to FILE")
      ->type_name("FILE");
  cl.choice("--device", device, {"cpu", "cuda"}, "cpu (default) or cuda (GPU LOCAL_RANK)");
  cl.flag("--check", check, "compare every thunk of one step on the GPU with the CPU");
  cl.number("--tolerance", toleranceOption, 0, 1, "--check's largest relative difference "
                                                   "(default 1e-5)");
  if (auto status = cl.parse(argc, argv))
    return *status;
  int64_t steps = stepsOption.value_or(30), warmup = warmupOption.value_or(5);
  double tolerance = toleranceOption.value_or(1e-5);
  bool cuda = device == "cuda";
  if (check && !cuda)
    return cl.usageError("--check compares the GPU with the CPU: give --device cuda");
  if (std::string why; tracePath && !mayReplace(*tracePath, OutputKind::TraceJson, why))
    return cl.usageError("--trace " + *tracePath + ": " + why);
  std::string error;
  World world;
  std::unique_ptr<Collectives> comm;
  bool worldKnown = detectWorld(world, error);
  world.modelCrc = modelCrcOf(artifact, "");
  if (!worldKnown || !(comm = connectRanks(world, 300, error))) {
    std::fprintf(stderr, "kiln bench: %s\n", error.c_str());
    return 1;
  }
  int ranks = comm->world().size;
  auto exec = Executor::load(artifact,
                             threads ? *threads
                                     : std::max<int>(1, std::thread::hardware_concurrency() /
                                                            comm->world().localSize),
                             error, cuda ? comm->world().localRank : -1);
  if (exec && !exec->useCollectives(comm, error))
    exec.reset();
  data::Dataset dataset;
  if (!exec || !loadDataset(exec->manifest().data, data, dataset, error)) {
    std::fprintf(stderr, "kiln bench: %s\n", error.c_str());
    return 1;
  }
  const Manifest &m = exec->manifest();
  int program = exec->program("train_step");
  StepInputs inputs;
  if (!stepInputs(m, inputs, error)) {
    std::fprintf(stderr, "kiln bench: %s\n", error.c_str());
    return 1;
  }
  // Benchmark graphs may take inputs with source "random": N(0, 1), once.
  data::Random fill(1, 2, 3);
  for (int64_t id : inputs.randomBuffers) {
    float *p = exec->as<float>(id);
    for (int64_t i = 0; i < m.compiled.buffers[id].bytes / 4; ++i)
      p[i] = static_cast<float>(fill.normal());
  }
  data::LoaderOptions loading;
  loading.seed = 1;
  loading.rank = comm->world().rank;
  loading.ranks = ranks;
  loading.threads = loaderThreads(data, exec->threads(), comm->world().localSize);
  loading.classes = inputs.labelClasses;
  auto loader = data::makeTrainLoader(dataset, inputs.views, m.batchSize, loading, error);
  if (!loader) {
    std::fprintf(stderr, "kiln bench: %s\n", error.c_str());
    return 1;
  }
  // Built before timing, so that no loader thread competes with the step;
  // a ring of them, so that memory does not grow with --steps.
  std::vector<data::Batch> batches;
  for (int64_t i = 0; i < std::min<int64_t>(warmup + steps, kBatchRing); ++i) {
    batches.push_back(loader->get(0, i % loader->stepsPerEpoch()));
    if (!batches.back().error.empty()) {
      std::fprintf(stderr, "kiln bench: %s\n", batches.back().error.c_str());
      return 1;
    }
  }
  auto feedStep = [&](int64_t i) {
    feedBatch(*exec, inputs, batches[i % batches.size()]);
    setSchedules(*exec, {i, 0, loader->stepsPerEpoch(), m.train.value("epochs", 1),
                         m.batchSize * ranks});
  };
  if (check) {
    feedStep(0);
    if (!checkAgainstCpu(*exec, program, tolerance))
      return 1;
  }
  exec->profile = profile || (ranks > 1 && !cuda);
  // One rank stops at Ctrl-C and reports the steps timed so far (ranks
  // could stop at different steps, so a job ends as the signal says).
  if (ranks == 1)
    std::signal(SIGINT, [](int) { interrupted = 1; });
  std::vector<double> times;
  for (int64_t i = 0; i < warmup + steps && !interrupted; ++i) {
    feedStep(i);
    if (i == warmup && exec->profile)
      exec->thunkSeconds.assign(exec->thunkSeconds.size(), 0.0);
    auto t0 = std::chrono::steady_clock::now();
    exec->run(program);
    double dt = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (i >= warmup)
      times.push_back(dt);
  }
  if (tracePath) {
    // One more step, each thunk timed per thread (Trace.h).
    std::vector<Executor::TraceEvent> events;
    bool profiled = exec->profile;
    exec->profile = false;
    exec->trace = &events;
    feedStep(warmup + steps - 1);
    exec->run(program);
    exec->trace = nullptr;
    exec->profile = profiled;
    if (comm->world().rank == 0 &&
        !writeTrace(m, program, events, exec->threads(), cuda, comm->world().rank, *tracePath, error)) {
      std::fprintf(stderr, "kiln bench: %s\n", error.c_str());
      return 1;
    }
  }
  if (times.empty()) {
    std::fprintf(stderr, "kiln bench: interrupted before a timed step\n");
    return 130;
  }
  if (interrupted) {
    std::fprintf(stderr, "kiln bench: interrupted: %zu of %lld steps timed\n", times.size(),
                 (long long)steps);
    steps = static_cast<int64_t>(times.size());
  }
  std::sort(times.begin(), times.end());
  double median = times[times.size() / 2];
  // The nearest-rank 90th percentile, as ref.py's bench-one.
  double p90 = times[std::min(times.size() - 1,
                              static_cast<size_t>(std::ceil(0.9 * times.size())) - 1)];
  int64_t flops = 0;
  for (const Thunk &t : m.compiled.programs[program].thunks)
    flops += t.flops;
  rusage usage_{};
  getrusage(RUSAGE_SELF, &usage_);
  nlohmann::ordered_json out = {{"model", m.model},
                                {"batch", m.batchSize * ranks},
                                {"ranks", ranks},
                                {"threads", exec->threads()},
                                {"median_ms", 1e3 * median},
                                {"p90_ms", 1e3 * p90},
                                {"min_ms", 1e3 * times.front()},
                                {"images_per_s", m.batchSize * ranks / median},
                                {"peak_rss_mib", usage_.ru_maxrss / 1024.0},
                                {"gflop_per_step", flops / 1e9},
                                {"gflop_per_s", flops / 1e9 / median},
                                {"blas", exec->blasDescription()}};
  if (cuda)
    out["device"] = exec->device()->description();
  if (ranks > 1 && !cuda) // the host-side measure; NCCL's runs on the device
    out["all_reduce"] = measureAllReduce(*exec, program, steps);
  if (comm->world().rank != 0)
    return 0;
  if (profile) {
    std::map<std::string, double> perKind;
    const Program &p = m.compiled.programs[program];
    for (size_t i = 0; i < p.thunks.size(); ++i) {
      const Thunk &t = p.thunks[i];
      std::string kind = thunkOp(m.compiled.kernels, t);
      perKind[kind] += 1e3 * exec->thunkSeconds[i] / steps;
    }
    out["ms_per_kind"] = perKind;
    // The slowest thunks, with what they move.
    std::vector<size_t> order(p.thunks.size());
    std::iota(order.begin(), order.end(), 0);
    std::sort(order.begin(), order.end(),
              [&](size_t a, size_t b) { return exec->thunkSeconds[a] > exec->thunkSeconds[b]; });
    nlohmann::ordered_json top = nlohmann::ordered_json::array();
    for (size_t k = 0; k < std::min<size_t>(25, order.size()); ++k) {
      const Thunk &t = p.thunks[order[k]];
      top.push_back({{"thunk", order[k]},
                     {"kind", thunkOp(m.compiled.kernels, t)},
                     {"ms", 1e3 * exec->thunkSeconds[order[k]] / steps},
                     {"mbytes", t.trafficBytes / 1e6},
                     {"name", t.name},
                     {"op", t.ops.empty() ? "" : t.ops[0]}});
    }
    out["slowest_thunks"] = top;
  }
  if (bandwidth) {
    // Copy bandwidth (bytes read + written), 256 MiB split over the threads.
    size_t n = 64 << 20;
    std::vector<float> src(n, 1.0f), dst(n);
    ThreadPool pool(exec->threads());
    double best = 1e9;
    for (int rep = 0; rep < 5; ++rep) {
      auto t0 = std::chrono::steady_clock::now();
      pool.run(exec->threads(), [&](int64_t i) {
        size_t a = n * i / exec->threads(), z = n * (i + 1) / exec->threads();
        std::memcpy(dst.data() + a, src.data() + a, (z - a) * 4);
      });
      best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    }
    out["copy_gb_per_s"] = 2.0 * n * 4 / best / 1e9;
  }
  if (interrupted)
    out["interrupted"] = true;
  std::printf("%s\n", out.dump().c_str());
  return interrupted ? 130 : 0;
}

} // namespace kiln
