//===- TarWriter.h - a tar of regular files, in place only when complete -*- C++ -*-===//
//
// Writes a pax (restricted) tar, as `kiln data convert` does for its shards:
// regular files with mode 0644, mtime 0 and no owner, so the same input
// gives the same bytes. The archive goes to PATH.tmp and is renamed to PATH
// by close(), so a failed conversion never leaves a partial shard behind.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_RUNTIME_DATA_TARWRITER_H
#define KILN_RUNTIME_DATA_TARWRITER_H

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

struct archive;

namespace kiln::data {

class TarWriter {
public:
  /// Removes PATH.tmp when the archive was never closed.
  ~TarWriter();

  /// Starts PATH.tmp (abandoning any archive still open).
  bool open(const std::string &path, std::string &error);
  /// Appends a regular file named `name` holding `bytes`.
  bool add(const std::string &name, const std::vector<uint8_t> &bytes,
           std::string &error);
  /// Finishes the archive and renames PATH.tmp to PATH.
  bool close(std::string &error);

private:
  struct Free {
    void operator()(struct archive *a) const;
  };

  void abandon();
  bool fail(const std::string &where, std::string &error);
  bool notOpen(std::string &error) const;

  std::unique_ptr<struct archive, Free> handle;
  std::string file;
};

} // namespace kiln::data

#endif // KILN_RUNTIME_DATA_TARWRITER_H
