//===- Random.h - counter-based random numbers for the data pipeline -*- C++ -*-===//
//
// Every random decision (the epoch's shuffle, one sample's crop and flip)
// draws from a generator keyed by (seed, what, index), so batches are the
// same for a given seed whatever the thread that builds them, and a
// resumed run draws what an uninterrupted one would.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_RUNTIME_DATA_RANDOM_H
#define KILN_RUNTIME_DATA_RANDOM_H

#include <cmath>
#include <cstdint>

namespace kiln::data {

class Random {
public:
  Random(uint64_t seed, uint64_t stream, uint64_t index)
      : state(mix(mix(seed ^ 0x9E3779B97F4A7C15ull) ^ stream) ^ mix(index + 0x632BE59BD9B4E019ull)) {}

  /// splitmix64.
  uint64_t next() { return mix(state += 0x9E3779B97F4A7C15ull); }
  /// Moves past `n` draws of next() at once.
  void skip(uint64_t n) { state += n * 0x9E3779B97F4A7C15ull; }
  /// Uniform in [0, 1).
  double uniform() { return (next() >> 11) * 0x1.0p-53; }
  /// Standard normal (Box-Muller).
  double normal() {
    double u1 = uniform(), u2 = uniform();
    return std::sqrt(-2.0 * std::log(1.0 - u1)) * std::cos(6.283185307179586 * u2);
  }

private:
  static uint64_t mix(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  uint64_t state;
};

} // namespace kiln::data

#endif // KILN_RUNTIME_DATA_RANDOM_H
