//===- GraphGenerator.h - random valid kiln graphs ------------------*- C++ -*-===//
//
// Writes a random, valid kiln JSON graph from a seed: parameters, inputs
// (f32 and i32 labels), sometimes a state tensor and random draws, then a
// chain of ops drawn from every op family (elementwise with broadcasting,
// comparisons and selects, casts, reductions, argmax, one_hot, views and
// copies, matmul, softmax and norms, resize), on shapes that favour the edges:
// sizes 1 and 2, primes, rows just under and over a vector width. Every
// value nothing reads ends in the scalar loss (as Σ value·r with a random
// input r, so every element matters) or, for integer and boolean values,
// in a metric; an optimizer drawn from those kiln has closes the step.
// Values are kept in ranges where f32 and f64 agree to a few ulps: inputs
// of exp, log, division and pow are squashed or made positive first, and
// ties are broken before ops that jump at them (see Generator::untie).
//
//===----------------------------------------------------------------------===//
#ifndef KILN_FUZZ_GRAPHS_GRAPHGENERATOR_H
#define KILN_FUZZ_GRAPHS_GRAPHGENERATOR_H

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>

namespace kiln::fuzz {

struct GeneratorOptions {
  int ops = 10;              // ops drawn (helpers for domains come on top)
  int64_t dimCap = 1 << 20;  // every drawn size is at most this (the shrinker lowers it)
  int64_t maxElements = 3000; // per tensor
};

/// The graph for `seed`: the same seed and options give the same graph.
nlohmann::ordered_json generateGraph(uint64_t seed, const GeneratorOptions &options);

/// `graph` as a person would write it: what fits in a line (a node, a
/// shape) on one line.
std::string formatGraph(const nlohmann::ordered_json &graph);

} // namespace kiln::fuzz

#endif // KILN_FUZZ_GRAPHS_GRAPHGENERATOR_H
