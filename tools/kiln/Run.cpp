//===- Run.cpp - kiln run ---------------------------------------------------===//
//
// One step (or one run of the eval entry) on given tensors, for debugging
// and parity checks: inputs (and optionally parameters and state) from
// safetensors, outputs to safetensors: "loss", "metric.NAME",
// "param.NAME" and "state.NAME" after the step, "output.NAME" for the eval
// entry, and with --grads "gradient.NAME" for every trained parameter.
//
//===----------------------------------------------------------------------===//
#include "Args.h"
#include "Subcommands.h"

#include "runtime/artifact/ShardLayout.h"
#include "runtime/exec/Executor.h"
#include "runtime/exec/NetworkFiles.h"
#include "runtime/train/Schedule.h"

#include <cstdio>
#include <cstring>
#include <thread>

namespace kiln {
namespace {

const char *kUsage =
    "usage: kiln run OUT.kiln --inputs batch.safetensors --outputs out.safetensors\n"
    "                [--params p.safetensors] [--state s.safetensors] [--grads]\n"
    "                [--program train_step|eval] [--schedule NAME=VALUE ...]\n"
    "                [--iteration N] [--threads N] [--device cpu|cuda]\n";

} // namespace

int runMain(int argc, char **argv) {
  Args args(argc, argv,
            {"inputs", "outputs", "params", "state", "program", "schedule", "iteration", "threads",
             "device"},
            {"grads", "help"});
  if (args.flag("help")) {
    std::fputs(kUsage, stdout);
    return 0;
  }
  auto iteration = args.integer("iteration", 0);
  auto threads = args.integer("threads", 1);
  bool cuda = args.cuda();
  if (!args.ok() || args.positional.size() != 1 || !args.value("inputs") || !args.value("outputs")) {
    std::fprintf(stderr, "kiln run: %s\n%s",
                 args.ok() ? "give OUT.kiln, --inputs and --outputs" : args.error.c_str(), kUsage);
    return 2;
  }
  std::string error;
  auto exec = Executor::load(args.positional[0],
                             threads ? *threads : std::max(1u, std::thread::hardware_concurrency()),
                             error, cuda ? 0 : -1);
  if (!exec) {
    std::fprintf(stderr, "kiln run: %s\n", error.c_str());
    return 1;
  }
  const Manifest &m = exec->manifest();
  std::string entry = args.value("program").value_or("train_step");
  int program = exec->program(entry);
  if (program < 0) {
    std::fprintf(stderr, "kiln run: the artifact has no program '%s'\n", entry.c_str());
    return 2;
  }
  // A teacher's init_from, unless --params (a run's) gives every network.
  if (!args.value("params") && !loadNetworkFiles(*exec, {}, error)) {
    std::fprintf(stderr, "kiln run: %s\n", error.c_str());
    return 1;
  }
  // --params may hold module state too (a run's params.safetensors).
  for (const char *option : {"params", "state"})
    if (auto path = args.value(option)) {
      TensorMap t;
      bool params = std::string(option) == "params";
      if (!readSafetensors(*path, t, error) ||
          !(params ? exec->setNetworkTensors(t, *path, error)
                   : exec->setTensors(t, "state", *path, error))) {
        std::fprintf(stderr, "kiln run: %s\n", error.c_str());
        return 1;
      }
    }
  TensorMap inputs;
  std::string inputsPath = *args.value("inputs");
  if (!readSafetensors(inputsPath, inputs, error)) {
    std::fprintf(stderr, "kiln run: %s\n", error.c_str());
    return 1;
  }
  for (const auto &in : m.inputs) {
    if (in.program != entry)
      continue;
    const Buffer &b = m.compiled.buffers[in.buffer];
    auto it = inputs.find(in.name);
    if (it == inputs.end() || it->second.shape != b.shape ||
        (int64_t)it->second.data.size() != b.bytes) {
      std::fprintf(stderr, "kiln run: %s: needs tensor '%s' of the input's shape and dtype (%s)\n",
                   inputsPath.c_str(), in.name.c_str(), dtypeName(b.dtype));
      return 1;
    }
    std::memcpy(exec->data(in.buffer), it->second.data.data(), b.bytes);
  }
  // Schedules: --schedule NAME=VALUE, else their value at --iteration.
  std::map<std::string, double> fixed;
  for (const std::string &s : args.values("schedule")) {
    auto eq = s.find('=');
    if (eq == std::string::npos) {
      std::fprintf(stderr, "kiln run: --schedule needs NAME=VALUE, got '%s'\n", s.c_str());
      return 2;
    }
    fixed[s.substr(0, eq)] = std::atof(s.c_str() + eq + 1);
  }
  int64_t it = iteration.value_or(0), perEpoch = std::max<int64_t>(1, 60000 / m.batchSize);
  ScheduleClock clock{it, it / perEpoch, perEpoch, m.train.value("epochs", 1), m.batchSize};
  for (const auto &s : m.schedules)
    *exec->as<float>(s.buffer) =
        static_cast<float>(fixed.count(s.name) ? fixed[s.name] : evaluateSchedule(s.spec, clock));

  // One rank: an artifact sharded over more would gather what no rank sent.
  if (!exec->checkShardRanks(1, error)) {
    std::fprintf(stderr, "kiln run: %s: %s\n", args.positional[0].c_str(), error.c_str());
    return 2;
  }
  if (args.flag("grads") && shardRanks(m.compiled) > 0) {
    std::fprintf(stderr, "kiln run: --grads: %s shards the optimizer (kiln compile "
                         "--shard-optimizer): no rank holds a whole gradient; compile it "
                         "without --shard-optimizer\n", args.positional[0].c_str());
    return 2;
  }
  exec->randomKey.step = it;
  exec->run(program);

  TensorMap out;
  for (const Sink &s : m.compiled.programs[program].sinks) {
    const Buffer &b = m.compiled.buffers[s.buffer];
    if (s.kind == "output" && s.name.rfind("gradient.", 0) == 0 && !args.flag("grads"))
      continue;
    std::string name = s.kind == "loss" ? "loss"
                       : s.kind == "metric" ? "metric." + s.name
                       : s.name.rfind("gradient.", 0) == 0 ? s.name
                                                           : "output." + s.name;
    StoredTensor t{safetensorsDtype(b.dtype), s.shape, {}};
    auto *p = static_cast<const uint8_t *>(exec->data(s.buffer));
    t.data.assign(p, p + b.bytes);
    out[name] = std::move(t);
    if (s.kind == "loss")
      std::printf("loss %.6f\n", *exec->as<float>(s.buffer));
  }
  if (entry == "train_step")
    for (auto [kind, prefix] : {std::pair{"param", "param."}, {"state", "state."}})
      for (auto &[name, t] : exec->tensors(kind))
        out[prefix + name] = t;
  if (!writeSafetensors(*args.value("outputs"), out, error)) {
    std::fprintf(stderr, "kiln run: %s\n", error.c_str());
    return 1;
  }
  return 0;
}

} // namespace kiln
