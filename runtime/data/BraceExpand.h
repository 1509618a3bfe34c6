//===- BraceExpand.h - shard patterns such as train-{000000..000127}.tar -*- C++ -*-===//
//
// The semantics of Python's `braceexpand` (the library WebDataset uses for
// shard lists): `{a..b}` inclusive integer ranges counting up or down, zero
// padded to the longer endpoint when an endpoint other than "0" starts with
// "0"; `{a..b..step}`; letter ranges `{a..e}`; comma lists `{x,y}`; nesting;
// cartesian products in pattern order; `\` escapes the next character. A
// group that is neither a range nor a list (`{}`, `{x}`) stays literal. Names
// keep the order of the pattern: nothing is sorted or deduplicated.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_RUNTIME_DATA_BRACEEXPAND_H
#define KILN_RUNTIME_DATA_BRACEEXPAND_H

#include <string>
#include <vector>

namespace kiln::data {

/// Replaces `out` with the expansion of `pattern`. Unbalanced braces, a
/// range endpoint outside 64-bit integers and an expansion of more than
/// 10,000,000 names are errors naming the column (1-based).
bool braceExpand(const std::string &pattern, std::vector<std::string> &out,
                 std::string &error);

} // namespace kiln::data

#endif // KILN_RUNTIME_DATA_BRACEEXPAND_H
