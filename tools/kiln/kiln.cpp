//===- kiln.cpp - the kiln driver -----------------------------------------===//
//
// `kiln SUBCOMMAND ...` dispatches to one subcommand's main.
//
//===----------------------------------------------------------------------===//
#include "Subcommands.h"

#include <csignal>
#include <cstdio>
#include <cstring>
#include <exception>
#include <new>

namespace {

struct Subcommand {
  const char *name;
  const char *summary;
  int (*main)(int, char **);
};

const Subcommand kSubcommands[] = {
    {"compile", "lower a JSON model graph through the kiln pipeline",
     kiln::compileMain},
    {"train", "compile (from JSON) and train on Fashion-MNIST", kiln::trainMain},
    {"run", "one step on given tensors (debugging, parity checks)", kiln::runMain},
    {"eval", "the graph's evaluation on an artifact or a run's parameters", kiln::evalMain},
    {"inspect", "what an artifact holds and will do", kiln::inspectMain},
    {"bench", "time the train step (median, images/s, peak memory)", kiln::benchMain},
    {"export", "one network's trained weights as safetensors, PyTorch names", kiln::exportMain},
    {"data", "convert a dataset to tar shards; its image sizes, mean and std", kiln::dataMain},
};

void usage(FILE *out) {
  std::fprintf(out,
               "usage: kiln <command> [options]\n"
               "\n"
               "kiln is a training engine built like a compiler: a model and its\n"
               "training objective, written as a JSON graph, are lowered through an\n"
               "MLIR pipeline into a training step.\n"
               "\n"
               "commands:\n");
  for (const Subcommand &s : kSubcommands)
    std::fprintf(out, "  %-10s %s\n", s.name, s.summary);
  std::fprintf(out, "\n'kiln <command> --help' describes a command's options.\n");
}

} // namespace

int main(int argc, char **argv) {
  if (argc < 2) {
    usage(stderr);
    return 2;
  }
  if (!std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "-h") ||
      !std::strcmp(argv[1], "help")) {
    usage(stdout);
    return 0;
  }
  // A file-size limit (ulimit -f) fails a write, which is then reported
  // and undone, instead of killing the process halfway through a file.
  std::signal(SIGXFSZ, SIG_IGN);
  for (const Subcommand &s : kSubcommands)
    if (!std::strcmp(argv[1], s.name)) {
      // Every expected failure is reported where it happens; this is the
      // last line against an unexpected one ending in abort().
      try {
        return s.main(argc - 1, argv + 1);
      } catch (const std::bad_alloc &) {
        std::fprintf(stderr, "kiln %s: out of memory\n", s.name);
      } catch (const std::exception &e) {
        std::fprintf(stderr, "kiln %s: internal error: %s\n", s.name, e.what());
      }
      return 1;
    }
  std::fprintf(stderr, "kiln: unknown command '%s'\n\n", argv[1]);
  usage(stderr);
  return 2;
}
