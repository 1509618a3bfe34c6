//===- Run.cpp - kiln run ---------------------------------------------------===//
//
// One step (or one run of the eval entry) on given tensors, for debugging
// and parity checks: inputs (and optionally parameters and state) from
// safetensors, outputs to safetensors: "loss", "metric.NAME",
// "param.NAME" and "state.NAME" after the step, "output.NAME" for the eval
// entry, and with --grads "gradient.NAME" for every trained parameter.
//
//===----------------------------------------------------------------------===//
#include "CommandLine.h"
#include "Subcommands.h"

#include "runtime/artifact/DurableFile.h"
#include "runtime/artifact/ShardLayout.h"
#include "runtime/exec/Executor.h"
#include "runtime/exec/NetworkFiles.h"
#include "runtime/train/Schedule.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>

namespace kiln {

int runMain(int argc, char **argv) {
  CommandLine cl("run", "One step (or the eval entry) on given tensors, for debugging and "
                        "parity checks: inputs from safetensors, outputs (loss, metric.NAME, "
                        "param.NAME, state.NAME, output.NAME, gradient.NAME) to safetensors.");
  std::string artifact, inputsPath, outputsPath;
  std::optional<std::string> params, state, entryName, device;
  std::optional<int64_t> iteration, threads;
  std::vector<std::string> schedules;
  bool grads = false, allowPartial = false;
  cl.positional("OUT.kiln", artifact, "the artifact");
  cl.app.add_option("--inputs", inputsPath, "the step's inputs (safetensors, named as the graph's)")
      ->required();
  cl.app.add_option("--outputs", outputsPath, "where the outputs go (safetensors)")->required();
  cl.text("--params", params, "parameters and module state (a run's params.safetensors)")
      ->type_name("FILE");
  cl.flag("--allow-partial", allowPartial,
          "let --params lack some of the model's tensors (they keep their initial values)");
  cl.text("--state", state, "optimizer and EMA state (a run's state.safetensors)")
      ->type_name("FILE");
  cl.flag("--grads", grads, "also write gradient.NAME for every trained parameter");
  cl.text("--program", entryName, "the program to run (default train_step; eval)")
      ->type_name("ENTRY");
  cl.list("--schedule", schedules, "NAME=VALUE: a schedule's value (default: its value at "
                                   "--iteration)");
  cl.integer("--iteration", iteration, 0, kMaxSteps, "the step the schedules are evaluated at");
  cl.integer("--threads", threads, 1, 1024, "threads (default: all cores)");
  cl.choice("--device", device, {"cpu", "cuda"}, "cpu (default) or cuda (GPU 0)");
  if (auto status = cl.parse(argc, argv))
    return *status;
  if (allowPartial && !params)
    return cl.usageError("--allow-partial needs --params");
  for (const std::optional<std::string> &in :
       {std::optional(inputsPath), params, state, std::optional(artifact)})
    if (in && sameFile(outputsPath, *in))
      return cl.usageError("--outputs " + outputsPath + " is also an input (" + *in +
                           "); refusing to write over it");
  if (std::string why; !mayReplace(outputsPath, OutputKind::Safetensors, why))
    return cl.usageError("--outputs " + outputsPath + ": " + why);
  bool cuda = device == "cuda";
  std::string error;
  auto exec = Executor::load(artifact,
                             threads ? *threads : std::max(1u, std::thread::hardware_concurrency()),
                             error, cuda ? 0 : -1);
  if (!exec) {
    std::fprintf(stderr, "kiln run: %s\n", error.c_str());
    return 1;
  }
  const Manifest &m = exec->manifest();
  std::string entry = entryName.value_or("train_step");
  int program = exec->program(entry);
  if (program < 0) {
    std::fprintf(stderr, "kiln run: the artifact has no program '%s'\n", entry.c_str());
    return 2;
  }
  // A teacher's init_from, unless --params (a run's) gives every network.
  if (!params && !loadNetworkFiles(*exec, {}, error)) {
    std::fprintf(stderr, "kiln run: %s\n", error.c_str());
    return 1;
  }
  // --params may hold module state too (a run's params.safetensors).
  if (params && !loadRunParams(*exec, *params, allowPartial, error)) {
    std::fprintf(stderr, "kiln run: %s\n", error.c_str());
    return 1;
  }
  if (state) {
    TensorMap t;
    if (!readSafetensors(*state, t, error) || !exec->setTensors(t, "state", *state, error)) {
      std::fprintf(stderr, "kiln run: %s\n", error.c_str());
      return 1;
    }
  }
  TensorMap inputs;
  if (!readSafetensors(inputsPath, inputs, error)) {
    std::fprintf(stderr, "kiln run: %s\n", error.c_str());
    return 1;
  }
  for (const auto &in : m.inputs) {
    if (in.program != entry)
      continue;
    const Buffer &b = m.compiled.buffers[in.buffer];
    auto it = inputs.find(in.name);
    std::string wanted = std::string(safetensorsDtype(b.dtype)) + " " + shapeText(b.shape);
    if (it == inputs.end()) {
      std::fprintf(stderr, "kiln run: %s: no tensor '%s' (the input wants %s)\n",
                   inputsPath.c_str(), in.name.c_str(), wanted.c_str());
      return 1;
    }
    const StoredTensor &t = it->second;
    if (t.shape != b.shape || t.dtype != safetensorsDtype(b.dtype)) {
      std::fprintf(stderr, "kiln run: %s: tensor '%s' is %s %s, the input wants %s\n",
                   inputsPath.c_str(), in.name.c_str(), t.dtype.c_str(),
                   shapeText(t.shape).c_str(), wanted.c_str());
      return 1;
    }
    if (in.classes > 0) {
      const auto *labels = reinterpret_cast<const int32_t *>(t.data.data());
      for (int64_t i = 0; i < b.bytes / 4; ++i)
        if (labels[i] < 0 || labels[i] >= in.classes) {
          std::fprintf(stderr,
                       "kiln run: %s: tensor '%s' [%lld] is label %d, outside the graph's "
                       "%lld classes [0, %lld)\n",
                       inputsPath.c_str(), in.name.c_str(), (long long)i, labels[i],
                       (long long)in.classes, (long long)in.classes);
          return 1;
        }
    }
    std::memcpy(exec->data(in.buffer), t.data.data(), b.bytes);
  }
  // Schedules: --schedule NAME=VALUE, else their value at --iteration.
  std::map<std::string, double> fixed;
  for (const std::string &s : schedules) {
    auto eq = s.find('=');
    if (eq == std::string::npos) {
      std::fprintf(stderr, "kiln run: --schedule needs NAME=VALUE, got '%s'\n", s.c_str());
      return 2;
    }
    std::string name = s.substr(0, eq), text = s.substr(eq + 1);
    auto known = std::find_if(m.schedules.begin(), m.schedules.end(),
                              [&](const Manifest::Schedule &k) { return k.name == name; });
    if (known == m.schedules.end()) {
      std::string names;
      for (const auto &k : m.schedules)
        names += (names.empty() ? "" : ", ") + k.name;
      std::fprintf(stderr, "kiln run: --schedule: the graph has no schedule '%s' (it has: %s)\n",
                   name.c_str(), names.empty() ? "none" : names.c_str());
      return 2;
    }
    char *end = nullptr;
    double value = std::strtod(text.c_str(), &end);
    if (text.empty() || *end || !std::isfinite(value)) {
      std::fprintf(stderr, "kiln run: --schedule %s: '%s' is not a finite number\n", name.c_str(),
                   text.c_str());
      return 2;
    }
    if (!fixed.emplace(name, value).second) {
      std::fprintf(stderr, "kiln run: --schedule %s is given twice\n", name.c_str());
      return 2;
    }
  }
  int64_t it = iteration.value_or(0), perEpoch = std::max<int64_t>(1, 60000 / m.batchSize);
  ScheduleClock clock{it, it / perEpoch, perEpoch, m.train.value("epochs", 1), m.batchSize};
  for (const auto &s : m.schedules)
    *exec->as<float>(s.buffer) =
        static_cast<float>(fixed.count(s.name) ? fixed[s.name] : evaluateSchedule(s.spec, clock));

  // One rank: an artifact sharded over more would gather what no rank sent.
  if (!exec->checkShardRanks(1, error)) {
    std::fprintf(stderr, "kiln run: %s: %s\n", artifact.c_str(), error.c_str());
    return 2;
  }
  if (grads && shardRanks(m.compiled) > 0) {
    std::fprintf(stderr, "kiln run: --grads: %s shards the optimizer (kiln compile "
                         "--shard-optimizer): no rank holds a whole gradient; compile it "
                         "without --shard-optimizer\n", artifact.c_str());
    return 2;
  }
  exec->randomKey.step = it;
  exec->run(program);

  TensorMap out;
  for (const Sink &s : m.compiled.programs[program].sinks) {
    const Buffer &b = m.compiled.buffers[s.buffer];
    if (s.kind == "output" && s.name.rfind("gradient.", 0) == 0 && !grads)
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
  if (!writeSafetensors(outputsPath, out, error)) {
    std::fprintf(stderr, "kiln run: %s\n", error.c_str());
    return 1;
  }
  return 0;
}

} // namespace kiln
