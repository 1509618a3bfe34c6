//===- ShardLayout.h - a sharded bucket's bytes ------------------*- C++ -*-===//
//
// How a reduce-scatter's or an all-gather's bucket holds its tensors
// (kiln-shard-optimizer): one segment per rank, each with that rank's
// chunk of every tensor. The CPU executor and the CUDA backend copy by the
// same SegmentCopy lists, so the CPU's runs test the GPU's layout.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_RUNTIME_ARTIFACT_SHARDLAYOUT_H
#define KILN_RUNTIME_ARTIFACT_SHARDLAYOUT_H

#include "runtime/artifact/Program.h"

#include <algorithm>
#include <cstdint>
#include <utility>
#include <vector>

namespace kiln {

/// `ranks` segments of `segment` elements, segment r holding chunk r of
/// every tensor, tensor i's at `offsets[i]`. A chunk is ⌈elements / ranks⌉
/// of the flattened tensor; past the tensor's end it is zeros (which stay
/// zeros under the elementwise update).
struct ShardLayout {
  std::vector<int64_t> chunks, offsets;
  int64_t segment = 0;
  explicit ShardLayout(std::vector<int64_t> chunkElements) : chunks(std::move(chunkElements)) {
    for (int64_t c : chunks) {
      offsets.push_back(segment);
      segment += c;
    }
  }
  static int64_t chunkOf(int64_t elements, int64_t ranks) { return (elements + ranks - 1) / ranks; }
  /// Of a tensor of `elements`, how many rank `r`'s chunk of `chunk` holds.
  static int64_t held(int64_t elements, int64_t chunk, int64_t r) {
    return std::clamp<int64_t>(elements - r * chunk, 0, chunk);
  }
};

/// Rank `rank`'s chunk of a whole tensor of `wholeBytes` into a chunk of
/// `chunkBytes` (kiln.shard, a snapshot's whole state): `bytes` copied
/// from byte `from` of the tensor, the `padding` bytes after them zeroed.
struct OwnChunk {
  int64_t from, bytes, padding;
};
inline OwnChunk ownChunk(int64_t wholeBytes, int64_t chunkBytes, int64_t elementBytes,
                         int64_t rank) {
  int64_t chunk = chunkBytes / elementBytes;
  int64_t held = ShardLayout::held(wholeBytes / elementBytes, chunk, rank) * elementBytes;
  return {rank * chunkBytes, held, chunkBytes - held};
}

/// Bucket `t`'s layout, from its tensors, whole (`whole`) or its chunks.
inline ShardLayout shardLayout(const std::vector<Buffer> &buffers, const BucketTransfer &t,
                               bool whole) {
  int64_t e = elementBytes(buffers[t.bucketBuffer].dtype);
  std::vector<int64_t> chunks;
  for (int64_t id : t.tensors) {
    int64_t n = buffers[id].bytes / e;
    chunks.push_back(whole ? ShardLayout::chunkOf(n, t.ranks) : n);
  }
  return ShardLayout(chunks);
}

/// The ranks `model` shards its optimizer over (kiln compile
/// --shard-optimizer --ranks N: its shard and reduce-scatter/all-gather
/// thunks say N), or 0 when it does not.
inline int64_t shardRanks(const CompiledModel &model) {
  for (const Program &p : model.programs)
    for (const Thunk &t : p.thunks) {
      if (const ShardSlice *s = t.as<ShardSlice>())
        return s->ranks;
      const BucketTransfer *b = bucketTransfer(t);
      if (b && !t.is<AllReduceStart>() && !t.is<AllReduceWait>())
        return b->ranks;
    }
  return 0;
}

/// `rows` blocks of `width` bytes between tensor `tensor` (contiguous,
/// from `tensorOffset`) and the bucket buffer (`pitch` apart, from
/// `bucketOffset`): a cudaMemcpy2D, or a loop on the CPU.
struct SegmentCopy {
  int64_t tensor, tensorOffset, bucketOffset, pitch, width, rows;
};

/// Every rank's chunk of each whole tensor of `t` to or from its segment
/// (a reduce-scatter's packing, an all-gather's unpacking): per tensor its
/// whole chunks, then the last rank's partial one. Padding is not copied.
inline std::vector<SegmentCopy> wholeTensorCopies(const std::vector<Buffer> &buffers,
                                                  const BucketTransfer &t) {
  ShardLayout layout = shardLayout(buffers, t, true);
  int64_t e = elementBytes(buffers[t.bucketBuffer].dtype), pitch = layout.segment * e;
  std::vector<SegmentCopy> copies;
  for (size_t i = 0; i < t.tensors.size(); ++i) {
    int64_t n = buffers[t.tensors[i]].bytes / e, c = layout.chunks[i];
    if (c == 0)
      continue; // nothing to move (the manifest admits no empty buffer)
    int64_t full = n / c, rest = n - full * c, at = layout.offsets[i] * e;
    if (full > 0)
      copies.push_back({t.tensors[i], 0, at, pitch, c * e, full});
    if (rest > 0)
      copies.push_back({t.tensors[i], full * c * e, at + full * pitch, pitch, rest * e, 1});
  }
  return copies;
}

/// The (byte offset, bytes) of every chunk's padding in a sharded bucket of
/// whole tensors: what a reduce-scatter's packing must zero (the copies
/// write the rest).
inline std::vector<std::pair<int64_t, int64_t>> paddingOf(const std::vector<Buffer> &buffers,
                                                          const BucketTransfer &t) {
  ShardLayout layout = shardLayout(buffers, t, true);
  int64_t e = elementBytes(buffers[t.bucketBuffer].dtype);
  std::vector<std::pair<int64_t, int64_t>> padding;
  for (size_t i = 0; i < t.tensors.size(); ++i) {
    int64_t n = buffers[t.tensors[i]].bytes / e, c = layout.chunks[i];
    for (int64_t r = 0; r < t.ranks; ++r)
      if (int64_t held = ShardLayout::held(n, c, r); held < c)
        padding.push_back({(r * layout.segment + layout.offsets[i] + held) * e, (c - held) * e});
  }
  return padding;
}

/// Each chunk tensor of `t` to or from its place in rank `rank`'s segment
/// (a reduce-scatter's unpacking, an all-gather's packing).
inline std::vector<SegmentCopy> ownChunkCopies(const std::vector<Buffer> &buffers,
                                               const BucketTransfer &t, int64_t rank) {
  ShardLayout layout = shardLayout(buffers, t, false);
  int64_t e = elementBytes(buffers[t.bucketBuffer].dtype);
  std::vector<SegmentCopy> copies;
  for (size_t i = 0; i < t.tensors.size(); ++i) {
    int64_t bytes = layout.chunks[i] * e;
    copies.push_back({t.tensors[i], 0, (rank * layout.segment + layout.offsets[i]) * e, bytes,
                      bytes, 1});
  }
  return copies;
}

} // namespace kiln

#endif // KILN_RUNTIME_ARTIFACT_SHARDLAYOUT_H
