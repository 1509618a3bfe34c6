//===- OutputFile.h - files written whole or not at all ----------*- C++ -*-===//
//
// A report kiln writes (a plot, a trace) goes to PATH.tmp-PID, is flushed
// to disk and renamed over PATH, so a reader never sees half a file and a
// failure leaves what was there before.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_TOOLS_OUTPUTFILE_H
#define KILN_TOOLS_OUTPUTFILE_H

#include <string>

namespace kiln {

/// Writes `contents` to `path` as above; false with `error` naming the path
/// and the system's reason.
bool writeFileAtomically(const std::string &path, const std::string &contents, std::string &error);

} // namespace kiln

#endif // KILN_TOOLS_OUTPUTFILE_H
