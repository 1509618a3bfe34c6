//===- ArenaUse.h - kiln inspect: what the arena holds, thunk by thunk -*- C++ -*-===//
//
// Each arena buffer lives from the first to the last thunk that uses it;
// the bytes live at a thunk are what the arena must hold there. `--buffers`
// lists them and `--memory-plot` draws them.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_TOOLS_ARENAUSE_H
#define KILN_TOOLS_ARENAUSE_H

#include "runtime/artifact/Manifest.h"

#include <map>
#include <string>
#include <vector>

namespace kiln {

/// Where an arena buffer of a program lives: its first and last thunk.
struct Lifetime {
  size_t first, last;
};

/// Every arena buffer program `p` uses, by buffer id.
std::map<int64_t, Lifetime> lifetimes(const CompiledModel &c, const Program &p);

/// The bytes of arena buffers live at each thunk of `p`.
std::vector<int64_t> liveBytes(const CompiledModel &c, const Program &p,
                               const std::map<int64_t, Lifetime> &life);

/// An SVG of `p`'s live arena bytes against thunk index, with the arena's
/// size, the peak, and the `largest` biggest buffers as bars over their
/// lifetimes labelled by name (the JSON node they hold); each bar's
/// <title> says buffer id, name, bytes and thunks. Written beside `path` and renamed
/// over it; false with `error` when that fails.
bool writeMemoryPlot(const CompiledModel &c, const Program &p, const std::string &path,
                     std::string &error, size_t largest = 12);

} // namespace kiln

#endif // KILN_TOOLS_ARENAUSE_H
