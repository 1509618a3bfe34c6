//===- CommandLine.h - one parser for the runtime subcommands ----*- C++ -*-===//
//
// `kiln train`, `run`, `eval`, `inspect`, `bench`, `export` and `data` read
// their command lines with CLI11 (Debian's libcli11-dev). Each option is
// declared once, with its type, accepted range and help; values are checked
// as they are parsed (the range in the message), an option given twice or
// an unknown one is an error (with the nearest known name), and --help is
// generated from the same declarations. `kiln compile` keeps LLVM's parser,
// which MLIR's own options (--mlir-*) need and which behaves the same way.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_TOOLS_COMMANDLINE_H
#define KILN_TOOLS_COMMANDLINE_H

#include <CLI/CLI.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace kiln {

/// The most steps any option accepts (--steps, --snapshot-every, --warmup):
/// far beyond a run's, far below where step arithmetic overflows.
constexpr int64_t kMaxSteps = int64_t(1) << 40;

class CommandLine {
public:
  /// `kiln NAME`, described by `summary` atop its --help.
  CommandLine(const std::string &name, const std::string &summary);

  /// A required positional argument.
  CLI::Option *positional(const std::string &name, std::string &into, const std::string &help);
  /// --NAME N: an integer in [min, max].
  CLI::Option *integer(const std::string &name, std::optional<int64_t> &into, int64_t min,
                       int64_t max, const std::string &help);
  /// --NAME X: a finite number in [min, max].
  CLI::Option *number(const std::string &name, std::optional<double> &into, double min,
                      double max, const std::string &help);
  /// --NAME VALUE: any text (a path, a name).
  CLI::Option *text(const std::string &name, std::optional<std::string> &into,
                    const std::string &help);
  /// --NAME VALUE: one of `choices`.
  CLI::Option *choice(const std::string &name, std::optional<std::string> &into,
                      const std::vector<std::string> &choices, const std::string &help);
  /// --NAME VALUE, as often as wanted.
  CLI::Option *list(const std::string &name, std::vector<std::string> &into,
                    const std::string &help);
  /// --NAME.
  CLI::Option *flag(const std::string &name, bool &into, const std::string &help);
  /// Text after the options in --help.
  void footer(const std::string &text) { app.footer(text); }

  /// Parses argv; nullopt to go on, else the exit status: 0 after --help
  /// (printed to stdout), 2 after an error (printed as "kiln NAME: ...").
  std::optional<int> parse(int argc, char **argv);

  /// Fails the parse from a check made after it (an option needing
  /// another): prints "kiln NAME: message" and the --help hint; returns 2.
  int usageError(const std::string &message) const;

  CLI::App app;

private:
  std::string name;
};

} // namespace kiln

#endif // KILN_TOOLS_COMMANDLINE_H
