//===- TarReader.h - the regular files of a tar, in order -------*- C++ -*-===//
//
// Streams one tar file (ustar, pax or GNU; gzip-, bzip2-, xz- or
// zstd-compressed through libarchive's filters) member by member, without
// seeking: directories, links and other special entries are passed over.
// Errors name the file, the member and the byte offset of its header in the
// uncompressed stream.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_RUNTIME_DATA_TARREADER_H
#define KILN_RUNTIME_DATA_TARREADER_H

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

struct archive;

namespace kiln::data {

class TarReader {
public:
  /// Opens `path` (closing any file already open).
  bool open(const std::string &path, std::string &error);

  /// The next regular file: its name and contents (`bytes` is reused, so
  /// its capacity carries over). At the end of the archive returns true
  /// with `end` set, and keeps doing so.
  bool next(std::string &name, std::vector<uint8_t> &bytes, bool &end,
            std::string &error);

  /// As next() but reads the header only and skips the contents (to count
  /// members cheaply). A member cut short may only show at the next call.
  bool skipNext(std::string &name, bool &end, std::string &error);

private:
  struct Free {
    void operator()(struct archive *a) const;
  };

  bool nextHeader(std::string &name, bool &end, std::string &error);
  std::string where() const;
  bool fail(const std::string &where, std::string &error) const;

  std::unique_ptr<struct archive, Free> handle;
  std::string file;
  std::string member;    // the current member, for messages
  int64_t headerAt = 0;  // its header's offset in the uncompressed stream
  int64_t memberBytes = 0;
  bool finished = false;
};

} // namespace kiln::data

#endif // KILN_RUNTIME_DATA_TARREADER_H
