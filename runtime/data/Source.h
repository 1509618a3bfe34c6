//===- Source.h - labelled images with random access --------------*- C++ -*-===//
//
// What a training or evaluation split reads from: IDX and CIFAR files are
// held in memory as pixels, an image folder as paths whose files are read
// and decoded by the loader's threads. Streamed tar shards are read
// sequentially instead (Shards.h). A source's order is fixed (sorted, as
// torchvision's), so sample i is the same image on every rank.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_RUNTIME_DATA_SOURCE_H
#define KILN_RUNTIME_DATA_SOURCE_H

#include "runtime/data/Image.h"

#include <memory>
#include <string>
#include <vector>

namespace kiln::data {

/// One sample as its source holds it: decoded pixels, or an encoded file
/// (JPEG, PNG, WebP) for the loader to decode.
struct Sample {
  Image image;
  std::vector<uint8_t> bytes;
  int32_t label = -1;
  std::string name; // for messages: a path, "train.tar:key.jpg", "file record 17"
};

class Source {
public:
  virtual ~Source() = default;
  int64_t size() const { return static_cast<int64_t>(labels.size()); }
  int64_t classes() const { return classCount; }
  /// Sample i's name for messages.
  virtual std::string name(int64_t i) const = 0;
  /// Sample i, decoded or not; false with `error` when it cannot be read.
  virtual bool fetch(int64_t i, Sample &out, std::string &error) const = 0;

  std::vector<int32_t> labels;
  int64_t classCount = 0;
  std::string where; // the file or folder, for messages and summaries
};

/// Images of one size held in memory (IDX, CIFAR, synthetic): count × h ×
/// w × c bytes, HWC.
class ArraySource : public Source {
public:
  std::string name(int64_t i) const override;
  bool fetch(int64_t i, Sample &out, std::string &error) const override;
  /// Pixel rows of image i.
  const uint8_t *pixels(int64_t i) const { return images.data() + i * height * width * channels; }

  int64_t height = 0, width = 0, channels = 1;
  std::vector<uint8_t> images;
};

/// Image files listed by path; the loader decodes them.
class FileSource : public Source {
public:
  std::string name(int64_t i) const override { return paths[i]; }
  bool fetch(int64_t i, Sample &out, std::string &error) const override;

  std::vector<std::string> paths;
};

/// The whole of `path` in `out`; false with `error` naming it.
bool readFile(const std::string &path, std::vector<uint8_t> &out, std::string &error);

} // namespace kiln::data

#endif // KILN_RUNTIME_DATA_SOURCE_H
