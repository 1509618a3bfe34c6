//===- DurableFile.h - files that survive a crash whole ----------*- C++ -*-===//
//
// Snapshots and the reports kiln writes (a plot, a trace) are written to a
// temporary file, flushed to disk and renamed over their path, so a reader
// never sees half a file and a failure leaves what was there before.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_RUNTIME_TRAIN_DURABLEFILE_H
#define KILN_RUNTIME_TRAIN_DURABLEFILE_H

#include <string>
#include <string_view>
#include <vector>

namespace kiln {

/// Writes `pieces`, one after another, to `path` and makes them durable
/// (fsync); false with errno's text in `why`. Pieces, so that a snapshot
/// is written from the tensors it holds, not from a copy of them all.
bool writeDurably(const std::string &path, const std::vector<std::string_view> &pieces,
                  std::string &why);

/// Writes `bytes` to PATH.tmp-PID durably and renames it over `path`; false
/// with `error` naming the path and the system's reason, nothing left
/// behind.
bool writeFileAtomically(const std::string &path, const std::string &bytes, std::string &error);

} // namespace kiln

#endif // KILN_RUNTIME_TRAIN_DURABLEFILE_H
