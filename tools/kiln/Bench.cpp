//===- Bench.cpp - kiln bench ------------------------------------------------===//
//
// Times the train step of an artifact as ref.py's bench-one does: batches
// generated beforehand (data excluded), `--warmup` steps, then the median
// of `--steps`; prints one JSON line with the median, the images/s and the
// process's peak resident memory. Optionally profiles where the time goes
// per thunk kind.
//
//===----------------------------------------------------------------------===//
#include "Args.h"
#include "Subcommands.h"

#include "runtime/data/Loader.h"
#include "runtime/exec/Executor.h"
#include "runtime/train/Schedule.h"
#include "runtime/train/Trainer.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <numeric>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <sys/resource.h>
#include <thread>

namespace kiln {

int benchMain(int argc, char **argv) {
  Args args(argc, argv, {"steps", "warmup", "threads", "data"}, {"profile", "bandwidth", "help"});
  const char *usage = "usage: kiln bench OUT.kiln [--steps 30] [--warmup 5] [--threads N] "
                      "[--data DIR] [--profile] [--bandwidth]\n";
  if (args.flag("help")) {
    std::fputs(usage, stdout);
    return 0;
  }
  int64_t steps = args.integer("steps", 1).value_or(30);
  int64_t warmup = args.integer("warmup", 0).value_or(5);
  auto threads = args.integer("threads", 1);
  if (!args.ok() || args.positional.size() != 1) {
    std::fprintf(stderr, "kiln bench: %s\n%s", args.ok() ? "give one OUT.kiln" : args.error.c_str(),
                 usage);
    return 2;
  }
  std::string error;
  auto exec = Executor::load(args.positional[0],
                             threads ? *threads : std::max(1u, std::thread::hardware_concurrency()),
                             error);
  data::Dataset dataset;
  if (!exec || !data::loadIdxDataset(args.value("data").value_or(data::kFashionMnistDir),
                                     dataset, error)) {
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
  data::Loader loader(dataset.train, inputs.views, m.batchSize, 1);
  std::vector<data::Batch> batches;
  for (int64_t i = 0; i < warmup + steps; ++i)
    batches.push_back(loader.get(0, i % loader.stepsPerEpoch()));
  exec->profile = args.flag("profile");
  std::vector<double> times;
  for (int64_t i = 0; i < warmup + steps; ++i) {
    feedBatch(*exec, inputs, batches[i]);
    ScheduleClock clock{i, 0, loader.stepsPerEpoch(), m.train.value("epochs", 1), m.batchSize};
    for (const auto &s : m.schedules)
      *exec->as<float>(s.buffer) = static_cast<float>(evaluateSchedule(s.spec, clock));
    if (i == warmup && exec->profile)
      exec->thunkSeconds.assign(exec->thunkSeconds.size(), 0.0);
    auto t0 = std::chrono::steady_clock::now();
    exec->run(program);
    double dt = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (i >= warmup)
      times.push_back(dt);
  }
  std::sort(times.begin(), times.end());
  double median = times[times.size() / 2];
  rusage usage_{};
  getrusage(RUSAGE_SELF, &usage_);
  nlohmann::ordered_json out = {{"model", m.model},
                                {"batch", m.batchSize},
                                {"threads", exec->threads()},
                                {"median_ms", 1e3 * median},
                                {"min_ms", 1e3 * times.front()},
                                {"images_per_s", m.batchSize / median},
                                {"peak_rss_mib", usage_.ru_maxrss / 1024.0}};
  if (exec->profile) {
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
    for (size_t k = 0; k < std::min<size_t>(12, order.size()); ++k) {
      const Thunk &t = p.thunks[order[k]];
      top.push_back({{"thunk", order[k]},
                     {"kind", thunkOp(m.compiled.kernels, t)},
                     {"ms", 1e3 * exec->thunkSeconds[order[k]] / steps},
                     {"mbytes", t.trafficBytes / 1e6},
                     {"op", t.ops.empty() ? "" : t.ops[0]}});
    }
    out["slowest_thunks"] = top;
  }
  if (args.flag("bandwidth")) {
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
  std::printf("%s\n", out.dump().c_str());
  return 0;
}

} // namespace kiln
