//===- GraphShrinker.h - a failing graph made minimal --------------*- C++ -*-===//
//
// Delta debugging on the JSON graph: a node is removed by reading one of
// its inputs wherever its result was read; a metric or a state update is
// dropped; the optimizer becomes plain SGD; then whatever nothing reads
// any more (nodes, inputs, parameters, state) goes. A candidate is kept when `stillFails` says so
// (the same kind of failure); candidates the importer refuses are not.
// Sizes are shrunk before this, by generating the same seed with smaller
// sizes (GeneratorOptions::dimCap).
//
//===----------------------------------------------------------------------===//
#ifndef KILN_FUZZ_GRAPHS_GRAPHSHRINKER_H
#define KILN_FUZZ_GRAPHS_GRAPHSHRINKER_H

#include <nlohmann/json.hpp>

#include <functional>

namespace kiln::fuzz {

/// The smallest graph found that still fails; at most `budget` checks.
nlohmann::ordered_json shrinkGraph(nlohmann::ordered_json graph,
                                   const std::function<bool(const nlohmann::ordered_json &)> &stillFails,
                                   int budget = 400);

/// Removes nodes, inputs, parameters and state that nothing reads.
void removeUnread(nlohmann::ordered_json &graph);

} // namespace kiln::fuzz

#endif // KILN_FUZZ_GRAPHS_GRAPHSHRINKER_H
