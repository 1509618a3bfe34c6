//===- Trainer.h - the training loop around a loaded artifact -----*- C++ -*-===//
//
// Per step: the next prefetched batch into the input buffers, every
// schedule evaluated at (iteration, epoch) into its scalar buffer, the
// train_step program, then the loss and metrics read back. Per epoch (and
// at the end): test accuracy through the eval program. Output: a progress
// line on stderr, RUNDIR/metrics.jsonl (one JSON object per logged step
// and per evaluation), RUNDIR/summary.json, RUNDIR/plot.svg and the final
// parameters in RUNDIR/params.safetensors, the state (optimizer moments,
// DINO's centre) in RUNDIR/state.safetensors. Under several ranks only rank
// 0 writes and reports; each rank feeds its share of the global batch.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_RUNTIME_TRAIN_TRAINER_H
#define KILN_RUNTIME_TRAIN_TRAINER_H

#include "runtime/data/Dataset.h"
#include "runtime/data/Loader.h"
#include "runtime/exec/Executor.h"
#include "runtime/train/Schedule.h"
#include "runtime/train/StopRequest.h"

#include <nlohmann/json.hpp>

#include <optional>

namespace kiln {

struct TrainOptions {
  std::optional<int64_t> epochs, steps, seed;
  std::string runDir = "run";
  /// The run's id (RunDirectory): written into every snapshot; --resume
  /// takes only snapshots of this run.
  std::string runId;
  bool quiet = false;
  /// Snapshots (runtime/train/Snapshot.h) every N steps (0: none) and at
  /// every epoch end, keeping the newest `keepSnapshots`.
  int64_t snapshotEvery = 0;
  int keepSnapshots = 3;
  /// Go on from the newest good snapshot in runDir (fresh when none).
  bool resume = false;
  /// The artifact's manifest CRC-32 (hex), which snapshots must match.
  std::string artifactCrc;
  /// Threads that read, decode and augment images (runtime/data/Loader.h).
  int loaderThreads = 1;
  /// Evaluate every N epochs (default: train.eval.every_epochs, else 1)
  /// and at the end of the run; or not at all.
  std::optional<int64_t> evalEvery;
  bool noEval = false;
  /// Where Train.cpp's signal thread asks the run to stop: it ends after
  /// the step in flight, every rank at the same step, with a snapshot, the
  /// summary and the plot. The trainer records its phase there as it goes.
  StopRequest *stop = nullptr;
};

struct TrainResult {
  int64_t steps = 0;
  int stoppedBy = 0; // the signal that stopped the run early, 0 if none
  int stopPhase = 0; // what the run did when it came (StopRequest::Phase)
  double firstLoss = 0, lastLoss = 0, testAccuracy = -1, testMse = -1, imagesPerSecond = 0;
};

/// How the train_step program's inputs are fed: views by input name, and
/// the label buffer (-1 if none).
struct StepInputs {
  std::map<std::string, data::ViewSpec> views;
  std::map<std::string, int64_t> viewBuffers;
  int64_t labelBuffer = -1;
  int64_t labelClasses = 0; // the labels' range [0, labelClasses), 0: unchecked
  /// Inputs with source "random" (benchmark graphs): filled once.
  std::vector<int64_t> randomBuffers;
};

/// Reads the train_step inputs of `m`; false with `error` for a view this
/// runtime cannot produce or a shape it cannot fill.
bool stepInputs(const Manifest &m, StepInputs &inputs, std::string &error);

/// A batch's inputs: (input buffer, its values) for each view and the labels.
std::vector<std::pair<int64_t, const void *>> batchInputs(const StepInputs &inputs,
                                                          const data::Batch &batch);
/// Copies a batch into the input buffers.
void feedBatch(Executor &exec, const StepInputs &inputs, const data::Batch &batch);

/// Writes every schedule's value at `clock` into its input; returns the
/// values in the manifest's order of schedules.
std::vector<double> setSchedules(Executor &exec, const ScheduleClock &clock);

/// Trains; false with `error` (bad input wiring, a non-finite loss).
bool train(Executor &exec, const data::Dataset &dataset, const TrainOptions &options,
           TrainResult &result, std::string &error);

/// What train.eval asks for, on the test set: accuracy of the scored
/// output ("accuracy"), or for "knn" the weighted k-NN top-1 (accuracy) and
/// top-5 of its l2-normalised features against the training set's, or for
/// "linear_probe" (or "knn" with "linear_probe": true) the test accuracy of
/// a linear classifier trained on the frozen training features (probe); and
/// the mean squared error of a `reconstruction` output against the [0, 1]
/// evaluation view. -1 for what the artifact does not have. The evaluation
/// view is train.eval.view's, else whole images normalised.
struct EvalResult {
  double accuracy = -1, top5 = -1, probe = -1, mse = -1;
  int64_t images = 0; // test images evaluated
  /// With several outputs scored (train.eval.output a list): each one's
  /// metrics by result key (test_accuracy/NAME, linear_probe/NAME); the
  /// fields above are the first output's.
  std::vector<std::pair<std::string, double>> heads;
};
/// Whether the evaluation the graph asks for can run on this data: an
/// evaluation split, a view it can read, no more classes than each scored
/// output has. evaluate() checks it first; a run checks it before step 0.
bool checkEvaluation(Executor &exec, const data::Dataset &dataset, std::string &error);
EvalResult evaluate(Executor &exec, const data::Dataset &dataset, int loaderThreads,
                    std::string &error);

/// The evaluation's numbers under the one set of keys that a run's
/// metrics.jsonl and `kiln eval` both write: test_accuracy (the top-1 of
/// what train.eval scores, k-NN included), knn_top5, linear_probe and
/// test_mse, each only when the artifact has it, and test_accuracy/HEAD per
/// head when several are scored.
nlohmann::ordered_json evalResultJson(const EvalResult &r);

} // namespace kiln

#endif // KILN_RUNTIME_TRAIN_TRAINER_H
