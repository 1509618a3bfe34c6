//===- WebDataset.h - image samples from WebDataset tar shards ---*- C++ -*-===//
//
// A shard is a tar whose consecutive members sharing a key form a sample,
// as webdataset's tar_file_iterator and group_by_keys read it: KEY.jpg (or
// .jpeg, .png, .webp) with KEY.cls, an ASCII class index. The key is the
// member's directory plus its basename up to the first dot; extensions are
// compared in lower case; a repeated key that is not adjacent starts a new
// sample; names without a dot and top-level `__*__` names are passed over.
// A sample that cannot be used is still returned, with `problem` naming the
// shard and the key, so the loader can skip it with a warning; only a
// broken tar is an error.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_RUNTIME_DATA_WEBDATASET_H
#define KILN_RUNTIME_DATA_WEBDATASET_H

#include "runtime/data/TarReader.h"

#include <cstdint>
#include <string>
#include <vector>

namespace kiln::data {

/// webdataset's base_plus_ext, the regex `^((?:.*/|)[^.]+)[.]([^/]*)$`:
/// "dir.v1/abc.seg.png" gives key "dir.v1/abc" and extension "seg.png".
/// False for a name with no key (no dot in the basename, say).
bool splitKey(const std::string &path, std::string &key, std::string &ext);

struct ShardSample {
  std::string key;
  std::string imageName;       // the member the image came from
  std::vector<uint8_t> image;  // its bytes, not decoded
  int32_t label = -1;
  std::string problem;         // empty when the sample is good
  uint64_t member = 0;         // ordinal of the sample within its shard
};

class ShardReader {
public:
  bool open(const std::string &path, std::string &error);

  /// The next sample; at the end of the shard returns true with `end` set.
  /// `sample`'s buffers are reused. Samples are numbered from 0 in shard
  /// order, those with a problem included.
  bool next(ShardSample &sample, bool &end, std::string &error);

private:
  /// The next member that belongs to a sample goes to `ahead`; `haveAhead`
  /// is false at the end of the tar. It is one member of look-ahead: the
  /// member that ends a sample is the first of the next.
  bool readAhead(std::string &error);
  void start(ShardSample &sample);
  void add(ShardSample &sample);
  void finish(ShardSample &sample);
  void problem(ShardSample &sample, const std::string &what) const;

  struct Member {
    std::string name, key, ext;
    std::vector<uint8_t> bytes;
  };

  TarReader tar;
  std::string shard;
  Member ahead;
  bool haveAhead = false;
  uint64_t samples = 0;
  // The sample being assembled.
  std::vector<std::string> extensions;
  int bestImage = 0; // rank of sample.image's extension; past the last when none
};

/// Counts the samples ShardReader would return for `path` (those with a
/// problem included) from the tar headers alone.
bool countSamples(const std::string &path, int64_t &count, std::string &error);

/// Brace-expands `pattern` (see BraceExpand.h) into shard paths, every one
/// of which must be an existing regular file.
bool expandShards(const std::string &pattern, std::vector<std::string> &paths,
                  std::string &error);

} // namespace kiln::data

#endif // KILN_RUNTIME_DATA_WEBDATASET_H
