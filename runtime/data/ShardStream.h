//===- ShardStream.h - tar shards read as lanes of a stream --------*- C++ -*-===//
//
// Training on WebDataset shards reads them sequentially. The shards are
// dealt to K lanes: in pass p (p = 0, 1, …) the shards are put in an
// order drawn from (seed, p), and lane l reads the l-th, (l+K)-th, …
// of them, through its own shuffle buffer (webdataset's), going on into
// pass p+1 when its shards of pass p are read: the stream never ends and
// epochs are a count of steps. A global step takes G/K consecutive samples
// from every lane, lane after lane, and rank r of W reads lanes
// [r·K/W, (r+1)·K/W) only, so the global batch is the same at every world
// size that divides K. Samples a shard cannot give (no image, no class),
// and the rest of a shard whose tar is broken, are skipped with a warning. Each sample is known by (shard, ordinal in
// its shard) and its pass, which key its augmentations.
//
// Evaluation reads the shards once, in order, as one lane without a
// buffer.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_RUNTIME_DATA_SHARDSTREAM_H
#define KILN_RUNTIME_DATA_SHARDSTREAM_H

#include "runtime/data/ShuffleBuffer.h"
#include "runtime/data/Source.h"
#include "runtime/data/WebDataset.h"

#include <memory>
#include <mutex>
#include <set>

namespace kiln::data {

/// A sample of a stream: its file, label, and what keys its randomness.
struct StreamSample {
  Sample sample;
  uint64_t id = 0;   // shard index << 32 | ordinal in the shard
  int64_t pass = 0;
};

class ShardStream {
public:
  /// `lanes` K; `buffer` samples per lane's shuffle buffer (0 or 1: none);
  /// `shuffle` false reads the shards once in order (evaluation).
  ShardStream(std::vector<std::string> shards, int64_t lanes, int64_t buffer, uint64_t seed,
              bool shuffle);

  int64_t lanes() const { return static_cast<int64_t>(state.size()); }
  const std::vector<std::string> &shards() const { return paths; }
  /// Lane `lane`'s next sample; `end` when a single pass is over. Lanes
  /// may be read from different threads, each lane by one at a time.
  /// False when a lane's shards gave no usable sample in a whole pass.
  bool next(int64_t lane, StreamSample &out, bool &end, std::string &error);
  /// Back to the start of every lane.
  void restart();

private:
  struct Lane {
    int64_t pass = 0, turn = 0; // this pass's shard index turn·K + lane
    int64_t given = 0;          // samples this pass has given
    int64_t shard = -1;         // the open shard, -1 none
    ShardReader reader;
    std::unique_ptr<ShuffleBuffer<StreamSample>> buffer;
  };
  /// The lane's next sample as its shards give it (no buffer).
  bool read(int64_t l, StreamSample &out, bool &end, std::string &error);
  /// Prints `what` as a warning, once.
  void warn(const std::string &what);
  /// Shard index of a lane's turn in a pass; -1 past its last.
  int64_t shardOf(int64_t l, int64_t pass, int64_t turn) const;

  std::vector<std::string> paths;
  int64_t bufferSize;
  uint64_t seed;
  bool shuffle;
  std::vector<Lane> state;
  std::mutex warnedMutex;
  std::set<std::string> warned; // problems reported once
};

} // namespace kiln::data

#endif // KILN_RUNTIME_DATA_SHARDSTREAM_H
