//===- CommandLine.cpp - one parser for the runtime subcommands -----------===//
#include "CommandLine.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace kiln {
namespace {

/// Edit distance, for suggesting the option a mistyped one meant.
size_t distance(const std::string &a, const std::string &b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j)
    row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] != b[j - 1])});
      diagonal = up;
    }
  }
  return row[b.size()];
}

std::string numberText(double x) {
  char s[32];
  std::snprintf(s, sizeof s, "%g", x);
  return s;
}

} // namespace

CommandLine::CommandLine(const std::string &name, const std::string &summary)
    : app(summary, "kiln " + name), name(name) {
  // Checked after parsing, to name the nearest known option.
  app.allow_extras(true);
  app.get_formatter()->column_width(30);
}

CLI::Option *CommandLine::positional(const std::string &name, std::string &into,
                                     const std::string &help) {
  return app.add_option(name, into, help)->required();
}

CLI::Option *CommandLine::integer(const std::string &name, std::optional<int64_t> &into,
                                  int64_t min, int64_t max, const std::string &help) {
  std::string range = "an integer from " + std::to_string(min) + " to " + std::to_string(max);
  return app
      .add_option_function<std::string>(
          name,
          [&into](const std::string &text) { into = std::strtoll(text.c_str(), nullptr, 10); },
          help)
      ->check(CLI::Validator(
          [min, max, range](std::string &text) -> std::string {
            char *end = nullptr;
            errno = 0;
            long long v = std::strtoll(text.c_str(), &end, 10);
            if (text.empty() || *end || errno || v < min || v > max)
              return "needs " + range + ", got '" + text + "'";
            return "";
          },
          "", "range"))
      ->type_name("N");
}

CLI::Option *CommandLine::number(const std::string &name, std::optional<double> &into,
                                 double min, double max, const std::string &help) {
  std::string range = "a number from " + numberText(min) + " to " + numberText(max);
  return app
      .add_option_function<std::string>(
          name, [&into](const std::string &text) { into = std::strtod(text.c_str(), nullptr); },
          help)
      ->check(CLI::Validator(
          [min, max, range](std::string &text) -> std::string {
            char *end = nullptr;
            double v = std::strtod(text.c_str(), &end);
            if (text.empty() || *end || !std::isfinite(v) || v < min || v > max)
              return "needs " + range + ", got '" + text + "'";
            return "";
          },
          "", "range"))
      ->type_name("X");
}

CLI::Option *CommandLine::text(const std::string &name, std::optional<std::string> &into,
                               const std::string &help) {
  return app
      .add_option_function<std::string>(
          name, [&into](const std::string &text) { into = text; }, help)
      ->check(CLI::Validator(
          [](std::string &text) -> std::string {
            // "--out --steps 1": the value forgotten, not a path "--steps".
            return text.rfind("--", 0) == 0 ? "needs a value, got the option '" + text + "'" : "";
          },
          "", "value"))
      ->type_name("VALUE");
}

CLI::Option *CommandLine::choice(const std::string &name, std::optional<std::string> &into,
                                 const std::vector<std::string> &choices,
                                 const std::string &help) {
  std::string names;
  for (const std::string &c : choices)
    names += (names.empty() ? "" : "|") + c;
  return text(name, into, help)
      ->check(CLI::Validator(
          [choices, names](std::string &text) -> std::string {
            if (std::find(choices.begin(), choices.end(), text) != choices.end())
              return "";
            return "'" + text + "' is not one of " + names;
          },
          "", "choice"))
      ->type_name(names);
}

CLI::Option *CommandLine::list(const std::string &name, std::vector<std::string> &into,
                               const std::string &help) {
  return app.add_option(name, into, help)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll)
      ->allow_extra_args(false)
      ->type_name("VALUE");
}

CLI::Option *CommandLine::flag(const std::string &name, bool &into, const std::string &help) {
  return app.add_flag(name, into, help);
}

int CommandLine::usageError(const std::string &message) const {
  std::fprintf(stderr, "kiln %s: %s\nRun 'kiln %s --help' for the options.\n", name.c_str(),
               message.c_str(), name.c_str());
  return 2;
}

std::optional<int> CommandLine::parse(int argc, char **argv) {
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp &e) {
    return app.exit(e);
  } catch (const CLI::ArgumentMismatch &e) {
    // The one mismatch a single-valued option can have: given twice.
    std::string what = e.what();
    return usageError(what.substr(0, what.find(':')) + " is given more than once");
  } catch (const CLI::ParseError &e) {
    return usageError(e.what());
  }
  for (const std::string &extra : app.remaining()) {
    if (extra.size() < 2 || extra[0] != '-')
      return usageError("unexpected argument '" + extra + "'");
    std::string given = extra.substr(0, extra.find('=')), best;
    size_t bestDistance = 4; // farther is no suggestion
    for (const CLI::Option *o : app.get_options())
      for (const std::string &known : o->get_lnames())
        if (size_t d = distance(given, "--" + known); d < bestDistance)
          bestDistance = d, best = "--" + known;
    return usageError("unknown option '" + given + "'" +
                      (best.empty() ? "" : " (did you mean '" + best + "'?)"));
  }
  return std::nullopt;
}

} // namespace kiln
