//===- handshake-fuzz.cpp - the handshake parser against any bytes ---------===//
//
// A libFuzzer target (LLVMFuzzerTestOneInput): every decoder of
// runtime/comm/Handshake.h over the input, and judge() and describe() on
// whatever parses. Built with -fsanitize=fuzzer where the compiler offers
// it (clang with compiler-rt); otherwise with the driver below, which runs
// the target on seeded random inputs and on mutations of a valid Hello
// (one bit, one byte, a cut), so the suite exercises it either way.
//
//   handshake-fuzz [COUNT] [SEED]
//
//===----------------------------------------------------------------------===//
#include "runtime/comm/Handshake.h"

#include <cstdio>
#include <cstdlib>
#include <random>

using namespace kiln::handshake;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  std::string why;
  Hello hello;
  if (decode(data, size, hello, why)) {
    Expectation expected{3, jobDigest("job"), 7, true};
    std::vector<bool> taken(3, false);
    Verdict verdict = judge(hello, expected, taken);
    if (describe(verdict, hello, expected).empty())
      std::abort();
  } else if (why.empty()) {
    std::abort(); // a refusal always says why
  }
  Reply reply;
  Verdict verdict;
  if (!decode(data, size, reply, why) && why.empty())
    std::abort();
  if (!decode(data, size, verdict, why) && why.empty())
    std::abort();
  (void)sample(data, size);
  return 0;
}

#ifndef KILN_LIBFUZZER
int main(int argc, char **argv) {
  long count = argc > 1 ? std::atol(argv[1]) : 100000;
  std::mt19937_64 rng(argc > 2 ? std::atoll(argv[2]) : 1);
  Hello valid;
  valid.rank = 1;
  valid.worldSize = 3;
  valid.job = jobDigest("job");
  valid.modelCrc = 7;
  valid.hasSecret = true;
  std::vector<uint8_t> seed = encode(valid);
  long parsed = 0;
  for (long i = 0; i < count; ++i) {
    std::vector<uint8_t> input;
    switch (i % 4) {
    case 0: // random bytes of a random length around the messages' sizes
      input.resize(rng() % (2 * kHelloBytes));
      for (uint8_t &b : input)
        b = uint8_t(rng());
      break;
    case 1: // a valid Hello with one bit flipped
      input = seed;
      input[rng() % input.size()] ^= uint8_t(1u << rng() % 8);
      break;
    case 2: // a valid Hello with one byte replaced
      input = seed;
      input[rng() % input.size()] = uint8_t(rng());
      break;
    default: // a valid Hello cut short
      input.assign(seed.begin(), seed.begin() + rng() % seed.size());
    }
    LLVMFuzzerTestOneInput(input.data(), input.size());
    std::string why;
    Hello h;
    parsed += decode(input.data(), input.size(), h, why);
  }
  std::printf("handshake-fuzz: %ld inputs, %ld parsed as a Hello, no crash\n", count, parsed);
  return 0;
}
#endif
