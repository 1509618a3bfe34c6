//===- Trainer.cpp - the training loop around a loaded artifact -----------===//
#include "runtime/train/Trainer.h"

#include "runtime/artifact/DurableFile.h"

#include "runtime/data/Loader.h"
#include "runtime/train/Knn.h"
#include "runtime/train/LinearProbe.h"
#include "runtime/train/Plot.h"
#include "runtime/train/Schedule.h"
#include "runtime/train/Snapshot.h"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sys/resource.h>

namespace kiln {
namespace {

using Clock = std::chrono::steady_clock;

std::string duration(double seconds) {
  char buf[32];
  int s = static_cast<int>(seconds + 0.5);
  if (s >= 3600)
    std::snprintf(buf, sizeof buf, "%dh%02dm", s / 3600, s / 60 % 60);
  else
    std::snprintf(buf, sizeof buf, "%dm%02ds", s / 60, s % 60);
  return buf;
}

/// Loads the newest good snapshot (warning about damaged ones) into the
/// executor and sets `first` to its step; fresh (0) when there is none.
bool resumeFromSnapshot(Executor &exec, const TrainOptions &options, const SnapshotInfo &expected,
                        int64_t &first, std::string &error) {
  bool found = false, lead = exec.rank() == 0;
  SnapshotInfo info;
  TensorMap params, state;
  std::vector<std::string> warnings;
  if (!loadNewestSnapshot(options.runDir, expected, found, info, params, state, warnings, error))
    return false;
  for (const std::string &w : warnings)
    std::fprintf(stderr, "kiln train: warning: %s\n", w.c_str());
  if (found && (!exec.setTensors(params, "param", "the snapshot", error) ||
                !exec.setTensors(state, "state", "the snapshot", error)))
    return false;
  first = found ? info.step : 0;
  // Every rank must go on from the same step.
  if (exec.worldSize() > 1)
    for (uint64_t s : exec.comm->allGather(first))
      if (static_cast<int64_t>(s) != first) {
        error = "the ranks found snapshots of different steps in " + options.runDir +
                "/snapshots: give every rank the same run directory";
        return false;
      }
  if (lead && !options.quiet && found)
    std::fprintf(stderr, "kiln train: resuming run %s after step %lld from %s/snapshots\n",
                 options.runId.c_str(), (long long)first, options.runDir.c_str());
  else if (lead && !options.quiet)
    std::fprintf(stderr, "kiln train: no snapshot in %s/snapshots: starting fresh\n",
                 options.runDir.c_str());
  return true;
}

/// Why step `step` went non-finite: the step is run again from the values
/// before it, thunk by thunk, up to the first that makes a NaN or an
/// infinity; its op and JSON node are named, and the snapshot to go back to.
std::string nonFiniteReport(Executor &exec, int program, double loss, int64_t step,
                            int64_t epoch, const std::string &runDir) {
  std::string what = std::isfinite(loss) ? "a parameter or state value became non-finite"
                                         : "the loss is " + std::to_string(loss);
  std::string report = "step " + std::to_string(step + 1) + " (epoch " +
                       std::to_string(epoch + 1) + "): " + what;
  exec.restoreTrainedState();
  int64_t at = exec.runUntilNonFinite(program);
  if (at >= 0) {
    const CompiledModel &c = exec.manifest().compiled;
    const Thunk &t = c.programs[program].thunks[at];
    std::string node = t.ops.empty() ? "?" : t.ops.front();
    report += "; the first NaN or infinity comes from " +
              (t.name.empty() ? "" : "region '" + t.name + "', ") + "node '" + node + "' (" +
              thunkOp(c.kernels, t) + ", thunk " + std::to_string(at) + ")";
  }
  std::vector<std::string> snapshots = snapshotFiles(runDir);
  return report + "; stopping. " +
         (snapshots.empty() ? "No snapshot was written (--snapshot-every N keeps progress)."
                            : "The last good snapshot is " + snapshots.back() + ".");
}

/// metrics.jsonl, replaced whole (writeFileAtomically) rather than appended
/// to, so that a kill at any moment leaves a consistent earlier file: at
/// most every 2 seconds, and whenever asked (epoch ends, evaluations, the
/// run's end).
class MetricsLog {
public:
  explicit MetricsLog(std::string path) : path(std::move(path)) {}
  void add(const std::string &line) { text += line + "\n"; }
  bool flush(bool now, std::string &error) {
    if (!now && Clock::now() - written < std::chrono::seconds(2))
      return true;
    written = Clock::now();
    return writeFileAtomically(path, {text}, error);
  }

private:
  std::string path, text;
  Clock::time_point written;
};

/// The lines of an earlier metrics.jsonl up to step `upTo` (none when 0),
/// with the curves they draw.
std::vector<std::string> keptMetrics(const std::string &runDir, int64_t upTo, Series &loss,
                                     Series &accuracy) {
  std::vector<std::string> kept;
  std::ifstream in(runDir + "/metrics.jsonl");
  for (std::string line; upTo > 0 && std::getline(in, line);) {
    auto r = nlohmann::json::parse(line, nullptr, false);
    if (r.is_discarded() || r.value("step", int64_t{0}) > upTo)
      continue;
    kept.push_back(line);
    if (r.contains("test_accuracy"))
      accuracy.points.push_back({r.value("epoch", 0.0), 100 * r.value("test_accuracy", 0.0)});
    else if (r.contains("loss"))
      loss.points.push_back({r.value("step", 0.0), r.value("loss", 0.0)});
  }
  return kept;
}

} // namespace

bool stepInputs(const Manifest &m, StepInputs &inputs, std::string &error) {
  for (const auto &in : m.inputs) {
    if (in.program != "train_step")
      continue;
    if (in.source == "label") {
      inputs.labelBuffer = in.buffer;
      inputs.labelClasses = in.classes;
      continue;
    }
    if (in.source == "random") {
      inputs.randomBuffers.push_back(in.buffer);
      continue;
    }
    const Buffer &b = m.compiled.buffers[in.buffer];
    data::ViewSpec v;
    v.channels = b.shape.size() == 4 && b.shape[1] == 3 ? 3 : 1;
    if (!data::parseView(m.data, in.source, v, error))
      return false;
    if (b.shape.size() != 4 || b.shape[0] != v.count * m.batchSize ||
        b.shape[1] != v.channels || b.shape[2] != v.size || b.shape[3] != v.size) {
      error = "input '" + in.name + "' is " + shapeText(b.shape) + " but view '" + in.source +
              "' makes " + shapeText({v.count * m.batchSize, v.channels, v.size, v.size}) +
              " (count × batch, channels 1 or 3, size, size)";
      return false;
    }
    inputs.views[in.name] = v;
    inputs.viewBuffers[in.name] = in.buffer;
  }
  return true;
}

std::vector<std::pair<int64_t, const void *>> batchInputs(const StepInputs &inputs,
                                                          const data::Batch &batch) {
  std::vector<std::pair<int64_t, const void *>> out;
  for (auto &[name, values] : batch.views)
    out.push_back({inputs.viewBuffers.at(name), values.data()});
  if (inputs.labelBuffer >= 0)
    out.push_back({inputs.labelBuffer, batch.labels.data()});
  return out;
}

void feedBatch(Executor &exec, const StepInputs &inputs, const data::Batch &batch) {
  for (auto [buffer, values] : batchInputs(inputs, batch))
    std::memcpy(exec.data(buffer), values, exec.manifest().compiled.buffers[buffer].bytes);
}

std::vector<double> setSchedules(Executor &exec, const ScheduleClock &clock) {
  std::vector<double> values;
  for (const auto &s : exec.manifest().schedules) {
    values.push_back(evaluateSchedule(s.spec, clock));
    *exec.as<float>(s.buffer) = static_cast<float>(values.back());
  }
  return values;
}

namespace {

/// The eval program's image input and its output sinks by name.
struct EvalProgram {
  int program = -1;
  int64_t image = -1;
  std::map<std::string, int64_t> outputs;
};

EvalProgram evalProgram(Executor &exec) {
  EvalProgram e;
  e.program = exec.program("eval");
  if (e.program < 0)
    return e;
  const Manifest &m = exec.manifest();
  for (const auto &in : m.inputs)
    if (in.program == "eval")
      e.image = in.buffer;
  for (const Sink &s : m.compiled.programs[e.program].sinks)
    if (s.kind == "output")
      e.outputs[s.name] = s.buffer;
  return e;
}

/// The outputs train.eval scores: its `output` (one name, or a list of
/// heads), else "output" or the eval program's only output; empty when
/// one is missing.
std::vector<std::string> scoredOutputs(const EvalProgram &e, const nlohmann::ordered_json &spec) {
  std::vector<std::string> names;
  if (spec.contains("output") && spec["output"].is_array())
    for (const auto &n : spec["output"])
      names.push_back(n.get<std::string>());
  else if (spec.contains("output"))
    names.push_back(spec["output"].get<std::string>());
  else if (e.outputs.count("output")) // the compiler's name for an unnamed output
    names.push_back("output");
  else if (e.outputs.size() == 1)
    names.push_back(e.outputs.begin()->first);
  for (const std::string &n : names)
    if (!e.outputs.count(n))
      return {};
  return names;
}

/// The evaluation's view of the eval program's image input: the view
/// train.eval.view names, or whole images normalised.
bool evalView(const Manifest &m, const Buffer &in, data::ViewSpec &view, std::string &error) {
  view = data::plainView(m.data, in.shape.back(), in.shape[1]);
  if (!m.train.contains("eval") || !m.train["eval"].contains("view"))
    return true;
  return data::parseView(m.data, m.train["eval"]["view"].get<std::string>(), view, error);
}

/// Runs the eval program over all of a split (the test one, or the
/// training one) in batches of its view; `each(n, labels)` reads the
/// outputs of the batch's first n rows, whose labels are given (the rest
/// is padding). `shard`: this rank takes every world-size-th batch only.
bool forEachEvalBatch(Executor &exec, const EvalProgram &e, const data::Dataset &dataset,
                      bool test, int loaderThreads,
                      const std::function<void(int64_t, const int32_t *)> &each,
                      std::string &error, bool shard = false) {
  const Manifest &m = exec.manifest();
  const Buffer &in = m.compiled.buffers[e.image];
  data::ViewSpec view;
  if (!evalView(m, in, view, error))
    return false;
  data::LoaderOptions options;
  options.threads = loaderThreads;
  options.rank = shard ? exec.rank() : 0;
  options.ranks = shard ? exec.worldSize() : 1;
  auto loader = data::makeEvalLoader(dataset, test, {{"image", view}}, m.evalBatchSize, options);
  for (int64_t step = 0; step < loader->stepsPerEpoch(); ++step) {
    data::Batch b = loader->get(0, step);
    if (!b.error.empty()) {
      error = b.error;
      return false;
    }
    if (b.count == 0)
      break;
    std::memcpy(exec.data(e.image), b.views["image"].data(), in.bytes);
    exec.run(e.program);
    each(b.count, b.labels.data());
  }
  return true;
}

/// The eval outputs `buffers` for every image of a split, one vector of
/// rows per buffer, and their labels: one pass of the eval program.
std::vector<std::vector<float>> evalOutputs(Executor &exec, const EvalProgram &e,
                                            const data::Dataset &dataset, bool test,
                                            int loaderThreads, const std::vector<int64_t> &buffers,
                                            std::vector<int32_t> &labels, std::string &error) {
  const Manifest &m = exec.manifest();
  std::vector<std::vector<float>> out(buffers.size());
  forEachEvalBatch(exec, e, dataset, test, loaderThreads, [&](int64_t n, const int32_t *l) {
    for (size_t b = 0; b < buffers.size(); ++b) {
      int64_t width = m.compiled.buffers[buffers[b]].bytes / 4 / m.evalBatchSize;
      const float *y = exec.as<float>(buffers[b]);
      out[b].insert(out[b].end(), y, y + n * width);
    }
    labels.insert(labels.end(), l, l + n);
  }, error);
  return out;
}

/// k-NN and linear-probe scores of features of every training and test
/// image (`kind` knn or linear_probe), for each of several outputs.
bool scoreFeatures(Executor &exec, const EvalProgram &e, const data::Dataset &dataset,
                   int loaderThreads, const std::vector<std::string> &heads,
                   const nlohmann::ordered_json &spec, EvalResult &r, std::string &error) {
  const Manifest &m = exec.manifest();
  std::vector<int64_t> buffers;
  for (const std::string &h : heads)
    buffers.push_back(e.outputs.at(h));
  std::vector<int32_t> trainLabels, testLabels;
  auto train = evalOutputs(exec, e, dataset, false, loaderThreads, buffers, trainLabels, error);
  auto tested = evalOutputs(exec, e, dataset, true, loaderThreads, buffers, testLabels, error);
  if (!error.empty())
    return false;
  r.images = static_cast<int64_t>(testLabels.size());
  int64_t classes = 0;
  for (int32_t l : trainLabels)
    classes = std::max<int64_t>(classes, l + 1);
  std::string kind = spec.value("kind", "accuracy");
  bool probe = kind == "linear_probe" || spec.value("linear_probe", false);
  for (size_t h = 0; h < heads.size(); ++h) {
    int64_t dim = m.compiled.buffers[buffers[h]].bytes / 4 / m.evalBatchSize;
    double probeAccuracy = -1;
    if (probe)
      probeAccuracy = linearProbe(train[h], trainLabels, tested[h], testLabels, dim, classes);
    KnnResult knn;
    if (kind == "knn") {
      l2NormalizeRows(train[h], dim);
      l2NormalizeRows(tested[h], dim);
      if (!knnClassify(train[h], trainLabels, tested[h], testLabels, dim, spec.value("k", 20),
                       spec.value("temperature", 0.07), classes, knn, error))
        return false;
    }
    double accuracy = kind == "knn" ? knn.top1 : probeAccuracy;
    if (h == 0) {
      r.accuracy = accuracy;
      r.top5 = kind == "knn" ? knn.top5 : -1;
      r.probe = probeAccuracy;
    }
    if (heads.size() > 1) {
      r.heads.push_back({"test_accuracy/" + heads[h], accuracy});
      if (kind == "knn" && probe)
        r.heads.push_back({"linear_probe/" + heads[h], probeAccuracy});
    }
  }
  return true;
}

} // namespace

nlohmann::ordered_json evalResultJson(const EvalResult &r) {
  nlohmann::ordered_json out = nlohmann::ordered_json::object();
  for (auto [key, value] : {std::pair{"test_accuracy", r.accuracy}, {"knn_top5", r.top5},
                            {"linear_probe", r.probe}, {"test_mse", r.mse}})
    if (value >= 0)
      out[key] = value;
  for (const auto &[key, value] : r.heads)
    out[key] = value;
  return out;
}

EvalResult evaluate(Executor &exec, const data::Dataset &dataset, int loaderThreads,
                    std::string &error) {
  EvalResult r;
  EvalProgram e = evalProgram(exec);
  const Manifest &m = exec.manifest();
  if (e.program < 0 || e.image < 0 || !m.train.contains("eval") ||
      !checkEvaluation(exec, dataset, error))
    return r;
  const auto &spec = m.train["eval"];
  std::vector<std::string> heads = scoredOutputs(e, spec);
  if (heads.empty())
    return r;
  std::string scored = heads.front();
  std::string kind = spec.value("kind", "accuracy");
  if (kind == "knn" || kind == "linear_probe") {
    scoreFeatures(exec, e, dataset, loaderThreads, heads, spec, r, error);
    return r;
  }
  auto recon = e.outputs.find("reconstruction");
  const Buffer &image = m.compiled.buffers[e.image];
  data::ViewSpec view;
  if (!evalView(m, image, view, error))
    return r;
  int64_t pixels = view.floats();
  // sums: correct per head, then the squared error, then the images.
  size_t nh = heads.size();
  std::vector<double> sums(nh + 2, 0.0);
  bool ok = forEachEvalBatch(exec, e, dataset, true, loaderThreads, [&](int64_t n, const int32_t *labels) {
    for (size_t h = 0; h < nh; ++h) {
      int64_t id = e.outputs[heads[h]], classes = m.compiled.buffers[id].shape.back();
      const float *y = exec.as<float>(id);
      for (int64_t i = 0; i < n; ++i) {
        int64_t best = std::max_element(y + i * classes, y + (i + 1) * classes) - (y + i * classes);
        sums[h] += best == labels[i];
      }
    }
    sums[nh + 1] += n;
    // Reconstruction error against the [0, 1] view (the input, not normalised).
    if (recon != e.outputs.end() && scored != "reconstruction") {
      const float *rec = exec.as<float>(recon->second), *x = exec.as<float>(e.image);
      int64_t plane = view.size * view.size;
      for (int64_t i = 0; i < n * pixels; ++i) {
        int64_t c = i / plane % view.channels;
        double d = rec[i] - (x[i] * view.std[c] + view.mean[c]);
        sums[nh] += d * d;
      }
    }
  }, error, /*shard=*/true);
  if (!ok)
    return r;
  if (exec.worldSize() > 1)
    exec.comm->allReduceSum(sums.data(), sums.size());
  double images = sums[nh + 1];
  r.images = static_cast<int64_t>(images);
  r.accuracy = sums[0] / images;
  for (size_t h = 0; h < nh && nh > 1; ++h)
    r.heads.push_back({"test_accuracy/" + heads[h], sums[h] / images});
  if (recon != e.outputs.end() && scored != "reconstruction")
    r.mse = sums[nh] / (images * pixels);
  return r;
}

bool checkEvaluation(Executor &exec, const data::Dataset &dataset, std::string &error) {
  EvalProgram e = evalProgram(exec);
  const Manifest &m = exec.manifest();
  if (e.program < 0 || e.image < 0 || !m.train.contains("eval"))
    return true;
  data::ViewSpec view;
  if (!evalView(m, m.compiled.buffers[e.image], view, error))
    return false;
  if (!dataset.hasTest()) {
    error = "the graph evaluates, but the data has no evaluation split (give data.source.eval_path "
            "or --eval-data)";
    return false;
  }
  const auto &spec = m.train["eval"];
  if (spec.value("kind", "accuracy") != "accuracy" || !dataset.train)
    return true;
  for (const std::string &scored : scoredOutputs(e, spec)) {
    int64_t outputs = m.compiled.buffers[e.outputs[scored]].shape.back();
    if (dataset.train->classes() > outputs) {
      error = dataset.train->where + " has " + std::to_string(dataset.train->classes()) +
              " classes, but the evaluated output '" + scored + "' scores " +
              std::to_string(outputs) + " (set the graph's number of classes)";
      return false;
    }
  }
  return true;
}

bool train(Executor &exec, const data::Dataset &dataset, const TrainOptions &options,
           TrainResult &result, std::string &error) {
  const Manifest &m = exec.manifest();
  int program = exec.program("train_step");
  if (program < 0) {
    error = "the artifact has no train_step program";
    return false;
  }
  StepInputs inputs;
  if (!stepInputs(m, inputs, error))
    return false;
  if (!inputs.randomBuffers.empty()) {
    error = "the graph has inputs with source 'random' (a benchmark graph): use kiln bench";
    return false;
  }
  int64_t evalEvery = options.noEval ? 0
                                     : options.evalEvery.value_or(
                                           m.train.value("eval", nlohmann::json::object())
                                               .value("every_epochs", 1));
  if (evalEvery > 0 && !checkEvaluation(exec, dataset, error))
    return false;
  // Per rank, and over all ranks (what schedules and images/s count).
  int64_t batch = m.batchSize * exec.worldSize();
  bool lead = exec.rank() == 0; // rank 0 reports and writes
  uint64_t seed = options.seed ? *options.seed : m.train.value("seed", 0);
  int64_t epochs = options.epochs ? *options.epochs : m.train.value("epochs", 1);
  int64_t logEvery = m.train.value("log_every", 50);
  data::LoaderOptions loading;
  loading.seed = seed;
  loading.rank = exec.rank();
  loading.ranks = exec.worldSize();
  loading.threads = options.loaderThreads;
  loading.classes = inputs.labelClasses;
  auto loader = data::makeTrainLoader(dataset, inputs.views, m.batchSize, loading, error);
  if (!loader)
    return false;
  int64_t perEpoch = loader->stepsPerEpoch();
  int64_t scheduled; // epochs × steps an epoch, saturating: --steps may cut it
  if (__builtin_mul_overflow(epochs, perEpoch, &scheduled))
    scheduled = INT64_MAX;
  int64_t total = options.steps ? std::min(*options.steps, scheduled) : scheduled;

  Series lossCurve{"training loss", "step", {}}, accCurve{"test accuracy (%)", "epoch", {}};
  SnapshotInfo snapshot{0, seed, exec.worldSize(), options.artifactCrc, m.trainingKey,
                        options.runId};
  int64_t first = 0;
  if (options.resume && !resumeFromSnapshot(exec, options, snapshot, first, error))
    return false;
  MetricsLog metrics(options.runDir + "/metrics.jsonl");
  if (lead) {
    std::error_code ec;
    std::filesystem::create_directories(options.runDir, ec);
    for (const std::string &line : keptMetrics(options.runDir, first, lossCurve, accCurve))
      metrics.add(line);
    if (!metrics.flush(true, error))
      return false;
  }
  int64_t lossBuffer = exec.sinkBuffer(program, "loss", "loss");
  std::vector<std::pair<std::string, int64_t>> metricBuffers;
  for (const Sink &s : m.compiled.programs[program].sinks)
    if (s.kind == "metric")
      metricBuffers.push_back({s.name, s.buffer});

  auto start = Clock::now();
  auto windowStart = start;
  int64_t windowSteps = 0;
  double windowLoss = 0;
  // The next step's batch is drawn while a step runs; on a GPU it goes up
  // then too (staged), so the host mirror holds it only if it must.
  data::Batch next = loader->get(first / perEpoch, first % perEpoch);
  bool staged = false;
  auto enter = [&](StopRequest::Phase phase) {
    if (options.stop)
      options.stop->enter(phase);
  };
  // The stop word every rank agrees on: the first nonzero in rank order.
  auto agreedStop = [&] {
    int stop = options.stop ? options.stop->word() : 0;
    if (!options.stop || exec.worldSize() == 1)
      return stop;
    std::vector<uint64_t> words = exec.comm->allGather(static_cast<uint64_t>(stop));
    auto asked = std::find_if(words.begin(), words.end(), [](uint64_t w) { return w != 0; });
    return asked == words.end() ? 0 : static_cast<int>(*asked);
  };
  auto stopAfter = [&](int64_t step, int stop) {
    result.stoppedBy = StopRequest::signalOf(stop);
    result.stopPhase = StopRequest::phaseOf(stop);
    total = step + 1;
  };
  for (int64_t step = first; step < total; ++step) {
    enter(StopRequest::Stepping);
    int64_t epoch = step / perEpoch, inEpoch = step % perEpoch;
    data::Batch b = std::move(next);
    if (!b.error.empty()) {
      error = "step " + std::to_string(step + 1) + ": " + b.error;
      return false;
    }
    if (!staged)
      feedBatch(exec, inputs, b);
    nlohmann::ordered_json record = {{"step", step + 1}, {"epoch", epoch}};
    std::vector<double> values = setSchedules(exec, {step, epoch, perEpoch, epochs, batch});
    for (size_t i = 0; i < values.size(); ++i)
      record[m.schedules[i].name] = values[i];
    exec.randomKey = {seed, static_cast<uint64_t>(step)};
    exec.saveTrainedState();
    exec.start(program);
    if (step + 1 < total) {
      next = loader->get((step + 1) / perEpoch, (step + 1) % perEpoch);
      staged = next.error.empty() && exec.stageInputs(program, batchInputs(inputs, next));
    }
    exec.finish(program);
    double loss = *exec.as<float>(lossBuffer);
    if (!std::isfinite(loss) || !exec.trainedStateFinite()) {
      feedBatch(exec, inputs, b); // the replay reads the step's batch from the host
      error = nonFiniteReport(exec, program, loss, step, epoch, options.runDir);
      return false;
    }
    if (step == first)
      result.firstLoss = loss;
    result.lastLoss = loss;
    result.steps = step + 1;
    windowLoss += loss;
    ++windowSteps;
    // A stop signal on any rank ends the run after this step on all of
    // them (the first such rank's signal and phase are reported).
    int stop = agreedStop();
    if (stop)
      stopAfter(step, stop);
    bool endOfEpoch = inEpoch == perEpoch - 1 || step + 1 == total;
    // Every evalEvery-th epoch, and at the end of the run; a stop signal
    // from here on counts as received during the evaluation.
    bool evaluateNow = endOfEpoch && evalEvery > 0 && !stop &&
                       ((epoch + 1) % evalEvery == 0 || step + 1 == total);
    if (evaluateNow)
      enter(StopRequest::Evaluating);
    if ((step + 1) % logEvery == 0 || endOfEpoch) {
      double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
      double window = std::chrono::duration<double>(Clock::now() - windowStart).count();
      double ips = windowSteps * batch / window;
      record["loss"] = windowLoss / windowSteps;
      for (auto &[name, id] : metricBuffers)
        record[name] = *exec.as<float>(id);
      record["images_per_s"] = ips;
      record["elapsed_s"] = elapsed;
      if (lead && (metrics.add(record.dump()), !metrics.flush(endOfEpoch, error)))
        return false;
      lossCurve.points.push_back({double(step + 1), windowLoss / windowSteps});
      result.imagesPerSecond = ips;
      if (!options.quiet && lead) {
        std::string extra;
        for (auto &[name, id] : metricBuffers) {
          char value[32];
          std::snprintf(value, sizeof value, " %s %.4f", name.c_str(), *exec.as<float>(id));
          extra += value;
        }
        // The run's steps (what the ETA counts to), then where in the epoch.
        std::fprintf(stderr,
                     "step %lld/%lld  epoch %lld/%lld (%lld/%lld)  loss %.4f%s  %.0f img/s  ETA %s\n",
                     (long long)step + 1, (long long)total, (long long)epoch + 1,
                     (long long)((total + perEpoch - 1) / perEpoch), (long long)inEpoch + 1,
                     (long long)perEpoch, windowLoss / windowSteps, extra.c_str(), ips,
                     duration(elapsed / (step - first + 1) * (total - step - 1)).c_str());
      }
      windowStart = Clock::now();
      windowSteps = 0;
      windowLoss = 0;
    }
    bool snapshotNow = endOfEpoch || (options.snapshotEvery && (step + 1) % options.snapshotEvery == 0);
    if (evaluateNow) {
      std::string evalError;
      EvalResult eval = evaluate(exec, dataset, options.loaderThreads, evalError);
      if (!evalError.empty()) {
        error = "evaluation after epoch " + std::to_string(epoch + 1) + ": " + evalError;
        return false;
      }
      if (eval.accuracy >= 0) {
        result.testAccuracy = eval.accuracy;
        result.testMse = eval.mse;
        accCurve.points.push_back({double(epoch + 1), 100 * eval.accuracy});
        nlohmann::ordered_json record{{"epoch", epoch + 1}, {"step", step + 1}};
        record.update(evalResultJson(eval));
        if (lead && (metrics.add(record.dump()), !metrics.flush(true, error)))
          return false;
        if (!options.quiet && lead)
          std::fprintf(stderr, "epoch %lld: test accuracy %.2f%%%s\n", (long long)epoch + 1,
                       100 * eval.accuracy,
                       eval.mse >= 0 ? (", test MSE " + std::to_string(eval.mse)).c_str() : "");
      }
      // A stop asked during the evaluation ends the run here, with this
      // step's snapshot (an epoch's end always writes one); after the last
      // step there is nothing left to stop.
      if (step + 1 < total && (stop = agreedStop()))
        stopAfter(step, stop);
    }
    // After the evaluation, so that a resumed run has the epoch's line.
    snapshot.step = step + 1;
    if (snapshotNow) {
      enter(StopRequest::Snapshotting);
      if (lead && !metrics.flush(true, error)) // a resume keeps the lines up to here
        return false;
      TensorMap state = exec.tensors("state"); // every rank: sharded state is gathered
      if (lead && !writeSnapshot(options.runDir, snapshot, exec.tensors("param"), std::move(state),
                                 options.keepSnapshots, error))
        return false;
    }
  }
  enter(StopRequest::Finishing);
  if (lead && !metrics.flush(true, error))
    return false;
  double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  TensorMap finalState = exec.tensors("state");
  // The largest resident set of any rank (what sharding the optimizer
  // state shrinks), gathered before the other ranks leave.
  rusage usage{};
  ::getrusage(RUSAGE_SELF, &usage);
  uint64_t peakRss = uint64_t(usage.ru_maxrss) * 1024;
  if (exec.worldSize() > 1)
    for (uint64_t r : exec.comm->allGather(peakRss))
      peakRss = std::max(peakRss, r);
  if (!lead)
    return true;
  nlohmann::ordered_json summary = {{"model", m.model},
                                    {"steps", result.steps},
                                    {"epochs", double(result.steps) / perEpoch},
                                    {"first_loss", result.firstLoss},
                                    {"last_loss", result.lastLoss},
                                    {"seconds", seconds},
                                    {"images_per_s", result.steps * batch / seconds},
                                    {"threads", exec.threads()},
                                    {"device", exec.device() ? exec.device()->description() : "cpu"},
                                    {"ranks", exec.worldSize()},
                                    {"global_batch", batch},
                                    {"skipped_images", loader->skipped()},
                                    {"peak_rss_bytes", peakRss}};
  if (result.stoppedBy) {
    summary["stopped_by_signal"] = result.stoppedBy;
    summary["stop_received_during"] = StopRequest::phaseName(result.stopPhase);
    // From this rank's signal (none if it came to another rank) to here.
    if (double taken = options.stop->secondsSinceRequest(); taken > 0)
      summary["stop_seconds"] = taken;
  }
  // Only what was measured: a run that never evaluated has no accuracy.
  if (result.testAccuracy >= 0)
    summary["test_accuracy"] = result.testAccuracy;
  if (result.testMse >= 0)
    summary["test_mse"] = result.testMse;
  // The summary last: its presence says the run's results are whole.
  if (!writeSafetensors(options.runDir + "/params.safetensors", exec.networkTensors(), error) ||
      !writeSafetensors(options.runDir + "/state.safetensors", finalState, error) ||
      !writeFileAtomically(options.runDir + "/plot.svg",
                           {plotSvg(m.model + " (" + options.runDir + ")", {lossCurve, accCurve})},
                           error) ||
      !writeFileAtomically(options.runDir + "/summary.json", {summary.dump(2) + "\n"}, error))
    return false;
  if (!options.quiet) {
    // Why there is no accuracy: a run stopped inside its first epoch
    // (--steps) was never evaluated.
    char accuracy[64];
    std::snprintf(accuracy, sizeof accuracy, "not evaluated (%s)",
                  options.noEval              ? "--no-eval"
                  : !m.train.contains("eval") ? "the graph has no train.eval"
                  : evalEvery == 0            ? "every 0 epochs"
                                              : "no epoch finished");
    if (result.testAccuracy >= 0)
      std::snprintf(accuracy, sizeof accuracy, "%.2f%%", 100 * result.testAccuracy);
    std::fprintf(stderr,
                 "done: %lld steps in %s (%.0f img/s), loss %.4f -> %.4f, test accuracy %s\n"
                 "      metrics %s/metrics.jsonl, plot %s/plot.svg, parameters %s/params.safetensors\n",
                 (long long)result.steps, duration(seconds).c_str(), result.steps * batch / seconds,
                 result.firstLoss, result.lastLoss, accuracy, options.runDir.c_str(),
                 options.runDir.c_str(), options.runDir.c_str());
  }
  return true;
}

} // namespace kiln
