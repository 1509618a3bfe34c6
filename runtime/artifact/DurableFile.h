//===- DurableFile.h - files that survive a crash whole ----------*- C++ -*-===//
//
// Every file kiln writes for a user (artifacts' files, snapshots, a run's
// results, exports, reports) goes to a temporary name carrying the
// writer's pid, is flushed to disk and renamed over its path: a reader
// never sees half a file, a full disk or a kill leaves what was there
// before, and one process never touches another's temporary file.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_RUNTIME_ARTIFACT_DURABLEFILE_H
#define KILN_RUNTIME_ARTIFACT_DURABLEFILE_H

#include <string>
#include <string_view>
#include <vector>

namespace kiln {

/// Writes `pieces`, one after another, to PATH.tmp-PID durably (fsync),
/// renames it over `path` and syncs the directory. Pieces, so that a
/// snapshot is written from the tensors it holds, not from a copy of them
/// all. False with `error` naming the path and the system's reason
/// (errno), nothing left behind and `path` as it was. /dev/null takes
/// the output and keeps nothing (`-o /dev/null`).
bool writeFileAtomically(const std::string &path, const std::vector<std::string_view> &pieces,
                         std::string &error);

/// What an output file holds, to tell an earlier output of the same kind
/// (replaced) from a file the user made (never replaced).
enum class OutputKind {
  Safetensors, // kiln export, kiln run --outputs
  TraceJson,   // kiln bench --trace
  Drawing,     // kiln inspect --graph, --memory-plot: SVG, DOT, PNG, PDF
  Text,        // kiln compile's IR and dumps: any text but a JSON document
};

/// Whether `path` may be written as an output of `kind`: nothing is there,
/// /dev/null is, or an earlier output of that kind is; false with `why`
/// otherwise (a directory, a graph, data, weights of another kind).
bool mayReplace(const std::string &path, OutputKind kind, std::string &why);

/// Whether `path` is /dev/null (by any name).
bool isDevNull(const std::string &path);

/// Whether `a` and `b` name one existing file (an output that would be
/// written over an input).
bool sameFile(const std::string &a, const std::string &b);

} // namespace kiln

#endif // KILN_RUNTIME_ARTIFACT_DURABLEFILE_H
