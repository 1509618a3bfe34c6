//===- ShardStream.cpp - tar shards read as lanes of a stream --------------===//
#include "runtime/data/ShardStream.h"

#include <cstdio>
#include <numeric>

namespace kiln::data {

ShardStream::ShardStream(std::vector<std::string> shards, int64_t lanes, int64_t buffer,
                         uint64_t seed, bool shuffle)
    : paths(std::move(shards)), bufferSize(buffer), seed(seed), shuffle(shuffle),
      state(std::max<int64_t>(1, lanes)) {
  restart();
}

void ShardStream::restart() {
  for (size_t l = 0; l < state.size(); ++l) {
    state[l] = Lane();
    if (shuffle && bufferSize > 1)
      state[l].buffer = std::make_unique<ShuffleBuffer<StreamSample>>(
          bufferSize, std::min<int64_t>(bufferSize, 100),
          Random(seed, 0x425546ull /* "BUF" */ + (l << 24), 0));
  }
}

int64_t ShardStream::shardOf(int64_t l, int64_t pass, int64_t turn) const {
  int64_t k = lanes(), n = static_cast<int64_t>(paths.size()), at = turn * k + l;
  if (at >= n)
    return -1;
  if (!shuffle)
    return at;
  // The pass's order, drawn afresh per call: a few shards' worth of work
  // once per shard read.
  std::vector<int64_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  Random r(seed, 0x5348415244ull /* "SHARD" */, pass);
  for (int64_t i = n - 1; i > 0; --i)
    std::swap(order[i], order[r.next() % (i + 1)]);
  return order[at];
}

void ShardStream::warn(const std::string &what) {
  std::lock_guard<std::mutex> lock(warnedMutex);
  if (warned.insert(what).second)
    std::fprintf(stderr, "kiln: warning: %s\n", what.c_str());
}

bool ShardStream::read(int64_t l, StreamSample &out, bool &end, std::string &error) {
  Lane &lane = state[l];
  ShardSample s;
  while (true) {
    if (lane.shard < 0) {
      lane.shard = shardOf(l, lane.pass, lane.turn);
      if (lane.shard < 0) {
        if (!shuffle || lane.turn == 0) { // one pass only, or a lane with no shard
          end = true;
          return true;
        }
        if (lane.given == 0) {
          error = "lane " + std::to_string(l) + " read all its shards (" + std::to_string(lane.turn) +
                  ", the first " + paths[shardOf(l, lane.pass, 0)] +
                  ") without a usable sample (see the warnings)";
          return false;
        }
        ++lane.pass;
        lane.turn = 0;
        lane.given = 0;
        continue;
      }
      if (!lane.reader.open(paths[lane.shard], error)) {
        warn(error + " (the shard is skipped)");
        lane.shard = -1;
        ++lane.turn;
        continue;
      }
    }
    bool shardEnd = false;
    if (!lane.reader.next(s, shardEnd, error)) {
      warn(error + " (the rest of the shard is skipped)");
      shardEnd = true;
    }
    if (shardEnd) {
      lane.shard = -1;
      ++lane.turn;
      continue;
    }
    if (!s.problem.empty()) {
      warn(s.problem + " (skipped)");
      continue;
    }
    out.sample.bytes = std::move(s.image);
    out.sample.image = Image();
    out.sample.label = s.label;
    out.sample.name = paths[lane.shard] + ":" + s.imageName;
    out.id = (static_cast<uint64_t>(lane.shard) << 32) | s.member;
    out.pass = lane.pass;
    ++lane.given;
    end = false;
    return true;
  }
}

bool ShardStream::next(int64_t l, StreamSample &out, bool &end, std::string &error) {
  Lane &lane = state[l];
  if (!lane.buffer)
    return read(l, out, end, error);
  StreamSample s;
  do {
    if (!read(l, s, end, error))
      return false;
    if (end) {
      error = "lane " + std::to_string(l) + " has no shard to read";
      return false;
    }
  } while (!lane.buffer->push(std::move(s)));
  lane.buffer->pop(out);
  return true;
}

} // namespace kiln::data
