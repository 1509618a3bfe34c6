//===- ShardLayoutTest.cpp - a sharded bucket's copies, rank by rank ------===//
//
// The copy lists the CPU executor loops over and the CUDA backend issues as
// 2-D copies, run here on the host for every rank of a simulated world:
// the reduce-scatter's packing (over garbage, the padding zeroed by
// paddingOf) and unpacking must give each rank the sum of its chunk of
// every tensor, the padding zero, and the all-gather's
// packing and unpacking must rebuild every tensor whole on every rank.
// Sizes cover a tensor smaller than the world, exact and ragged chunks.
//
//===----------------------------------------------------------------------===//
#include "runtime/artifact/ShardLayout.h"

#include <gtest/gtest.h>

#include <cstring>

using namespace kiln;

namespace {

/// f32 buffers of these element counts, then a bucket: a BucketTransfer
/// over them with `ranks`.
struct Bucket {
  std::vector<Buffer> buffers;
  BucketTransfer transfer;
  Bucket(const std::vector<int64_t> &elements, int64_t ranks, bool whole) {
    int64_t packed = 0;
    for (int64_t n : elements) {
      Buffer b;
      b.id = buffers.size();
      b.dtype = DType::F32;
      b.bytes = 4 * n;
      buffers.push_back(b);
      transfer.tensors.push_back(b.id);
      packed += ranks * (whole ? ShardLayout::chunkOf(n, ranks) : n);
    }
    Buffer bucket;
    bucket.id = buffers.size();
    bucket.dtype = DType::F32;
    bucket.bytes = 4 * packed;
    buffers.push_back(bucket);
    transfer.bucketBuffer = bucket.id;
    transfer.ranks = ranks;
  }
};

/// Runs `copies` between `tensors` (one vector per tensor) and `bucket`.
void run(const std::vector<SegmentCopy> &copies, std::vector<std::vector<float>> &tensors,
         std::vector<float> &bucket, bool toBucket) {
  auto *b = reinterpret_cast<uint8_t *>(bucket.data());
  for (const SegmentCopy &c : copies)
    for (int64_t r = 0; r < c.rows; ++r) {
      uint8_t *row = b + c.bucketOffset + r * c.pitch;
      auto *part = reinterpret_cast<uint8_t *>(tensors[c.tensor].data()) + c.tensorOffset +
                   r * c.width;
      ASSERT_LE(c.bucketOffset + r * c.pitch + c.width, int64_t(4 * bucket.size()));
      ASSERT_LE(c.tensorOffset + r * c.width + c.width, int64_t(4 * tensors[c.tensor].size()));
      std::memcpy(toBucket ? row : part, toBucket ? part : row, c.width);
    }
}

TEST(ShardLayoutTest, ReduceScatterThenAllGatherRebuildsTheSum) {
  const std::vector<int64_t> elements = {1, 5, 12, 7, 64};
  for (int64_t ranks : {1, 2, 3, 4, 8}) {
    SCOPED_TRACE("ranks " + std::to_string(ranks));
    Bucket whole(elements, ranks, true);
    ShardLayout layout = shardLayout(whole.buffers, whole.transfer, true);
    // Rank r's tensor i holds 1000·r + 100·i + j at element j.
    std::vector<float> summed(whole.buffers.back().bytes / 4, 0.0f);
    for (int64_t r = 0; r < ranks; ++r) {
      std::vector<std::vector<float>> tensors;
      for (size_t i = 0; i < elements.size(); ++i) {
        tensors.emplace_back(elements[i]);
        for (int64_t j = 0; j < elements[i]; ++j)
          tensors[i][j] = 1000.0f * r + 100.0f * i + j;
      }
      // Packed over garbage: the copies and the padding must cover it.
      std::vector<float> bucket(summed.size(), 1e30f);
      for (auto [offset, bytes] : paddingOf(whole.buffers, whole.transfer))
        std::memset(reinterpret_cast<uint8_t *>(bucket.data()) + offset, 0, bytes);
      run(wholeTensorCopies(whole.buffers, whole.transfer), tensors, bucket, true);
      for (size_t k = 0; k < bucket.size(); ++k)
        summed[k] += bucket[k]; // the reduce-scatter's sum, every segment
    }
    // Each rank's chunks out of its segment, then into the gather's bucket.
    std::vector<int64_t> chunks = layout.chunks;
    Bucket parts(chunks, ranks, false);
    std::vector<float> gathered(summed.size(), 0.0f);
    for (int64_t r = 0; r < ranks; ++r) {
      std::vector<std::vector<float>> chunk;
      for (int64_t c : chunks)
        chunk.emplace_back(c, -1.0f);
      run(ownChunkCopies(parts.buffers, parts.transfer, r), chunk, summed, false);
      for (size_t i = 0; i < elements.size(); ++i)
        for (int64_t j = 0; j < chunks[i]; ++j) {
          int64_t at = r * chunks[i] + j; // the element this is of the whole
          float sum = 0;
          for (int64_t q = 0; q < ranks; ++q)
            sum += 1000.0f * q + 100.0f * i + at;
          EXPECT_EQ(chunk[i][j], at < elements[i] ? sum : 0.0f) << "tensor " << i << " at " << at;
        }
      std::vector<float> mine(gathered.size(), 0.0f);
      run(ownChunkCopies(parts.buffers, parts.transfer, r), chunk, mine, true);
      for (size_t k = 0; k < mine.size(); ++k)
        gathered[k] += mine[k]; // the all-gather: each rank fills its segment
    }
    std::vector<std::vector<float>> rebuilt;
    for (int64_t n : elements)
      rebuilt.emplace_back(n, -1.0f);
    run(wholeTensorCopies(whole.buffers, whole.transfer), rebuilt, gathered, false);
    for (size_t i = 0; i < elements.size(); ++i)
      for (int64_t j = 0; j < elements[i]; ++j) {
        float sum = 0;
        for (int64_t q = 0; q < ranks; ++q)
          sum += 1000.0f * q + 100.0f * i + j;
        EXPECT_EQ(rebuilt[i][j], sum) << "tensor " << i << " element " << j;
      }
  }
}

} // namespace
