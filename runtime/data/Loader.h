//===- Loader.h - batches of augmented views, built ahead ----------*- C++ -*-===//
//
// Training: per epoch a permutation of the source from (seed, epoch); step
// i takes the next batch·ranks indices (the last partial batch is dropped)
// and rank r the r-th `batch` of them, so the global batch of a step is the
// same at every world size. Evaluation: the source in order, the last batch
// partial. Every random choice of a sample's view copy is keyed by (seed,
// epoch, view, copy, sample), so a batch is the same whatever the rank or
// thread that builds it and however many loader threads there are.
//
// A producer thread builds the batches after the one asked for into a
// bounded queue, spreading each batch's samples over `threads` threads
// (itself included); files are read and decoded there. A sample that
// cannot be read or decoded is replaced by the next one in the epoch's
// order, with a warning naming it once, and counted.
//
// Tar shards are streamed instead (ShardStream.h): an epoch is a number of
// steps, a step reads each of this rank's lanes in turn, and the stream
// goes on across epochs; a resumed or jumping run reads the stream again
// from the start up to its step (without decoding).
//
//===----------------------------------------------------------------------===//
#ifndef KILN_RUNTIME_DATA_LOADER_H
#define KILN_RUNTIME_DATA_LOADER_H

#include "runtime/data/ShardStream.h"
#include "runtime/data/Source.h"
#include "runtime/data/Views.h"
#include "runtime/exec/ThreadPool.h"

#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <thread>

namespace kiln::data {

/// One batch: per input name its floats (views) or labels; `count` rows
/// are real (fewer only in evaluation's last batch, the rest zeros).
struct Batch {
  std::map<std::string, std::vector<float>> views;
  std::vector<int32_t> labels;
  int64_t count = 0;
  std::string error; // the data cannot go on (a stream with nothing left to give)
};

/// One copy of one view of a sample, and where it goes.
struct ViewCopy {
  const ViewSpec *view;
  Random rng;
  float *out;
  ViewDraw draw;
};

struct LoaderOptions {
  uint64_t seed = 0;
  int rank = 0, ranks = 1;
  int threads = 1; // decode and augment threads (the producer included)
  int depth = 2;   // batches built ahead
  bool evaluation = false; // in order, last batch kept
  int64_t classes = 0;     // > 0: a label outside [0, classes) is a batch error
};

class Loader {
public:
  /// `views`: input name -> view spec; a "label" input gets the labels.
  Loader(std::shared_ptr<const Source> source, std::map<std::string, ViewSpec> views,
         int64_t batch, LoaderOptions options);
  /// A stream of `epochSteps` steps an epoch (evaluation: until it ends).
  Loader(std::shared_ptr<ShardStream> stream, int64_t epochSteps,
         std::map<std::string, ViewSpec> views, int64_t batch, LoaderOptions options);
  ~Loader();

  int64_t stepsPerEpoch() const;
  /// Batch `step` of `epoch`; builds ahead the ones after it.
  Batch get(int64_t epoch, int64_t step);
  /// Samples replaced so far because they could not be read.
  int64_t skipped() const;

private:
  Batch build(int64_t epoch, int64_t step);
  /// A batch of zeros, every view and label allocated.
  Batch emptyBatch() const;
  /// Marks sample `key` unreadable: warned about and counted once.
  void skip(int64_t key, const std::string &why);
  Batch buildFromStream(int64_t epoch, int64_t step);
  /// The copies of every view of a sample keyed (seed, `epoch`, view,
  /// copy, `id`), written to row `row` of `b`.
  std::vector<ViewCopy> copiesOf(Batch &b, int64_t epoch, uint64_t id, int64_t row);
  /// Writes row `row` of `b` from sample `position` of the epoch's order
  /// (or the next readable one).
  void fill(Batch &b, int64_t epoch, int64_t position, int64_t row);
  const std::vector<int64_t> &order(int64_t epoch);
  void produce();

  std::shared_ptr<const Source> source;
  std::shared_ptr<ShardStream> stream;
  int64_t epochSteps = 0, streamAt = 0; // the stream's next step (evaluation: sample)
  std::map<std::string, ViewSpec> views;
  int64_t batch;
  LoaderOptions options;
  ThreadPool pool;

  std::mutex ordersMutex;
  std::map<int64_t, std::vector<int64_t>> orders; // epoch -> permutation

  mutable std::mutex badMutex;
  std::set<int64_t> bad; // samples found unreadable (each warned about once)
  int64_t replaced = 0;

  // The producer's queue: global step numbers, built in order from `next`.
  std::mutex queueMutex;
  std::condition_variable queueChanged;
  std::deque<std::pair<int64_t, Batch>> ready;
  int64_t next = -1, generation = 0;
  bool stopping = false;
  std::thread producer;
};

/// Whether images of a fixed size (IDX, CIFAR) are the size of each view
/// that neither resizes them nor asks for a centre crop (else they would
/// be cropped or padded silently); false with `error` naming both sizes.
/// Other sources fit.
bool fixedSizeFitsViews(const Source &source, const std::map<std::string, ViewSpec> &views,
                        std::string &error);

/// The training loader of `d`: its source's permutations, or its shards'
/// stream with `d.spec`'s lanes (default: the most, up to 16, that the
/// shards, the global batch and the ranks allow). Null with `error` when
/// the shards cannot be laned so, or the data holds less than one global
/// batch.
std::unique_ptr<Loader> makeTrainLoader(const struct Dataset &d,
                                        std::map<std::string, ViewSpec> views, int64_t batch,
                                        LoaderOptions options, std::string &error);

/// An evaluation pass (in order, once) over `d`'s test split, or its
/// training split when `test` is false.
std::unique_ptr<Loader> makeEvalLoader(const struct Dataset &d, bool test,
                                       std::map<std::string, ViewSpec> views, int64_t batch,
                                       LoaderOptions options);

} // namespace kiln::data

#endif // KILN_RUNTIME_DATA_LOADER_H
