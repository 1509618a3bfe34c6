//===- Args.h - command lines of the runtime subcommands ---------*- C++ -*-===//
//
// `kiln train`, `run` and `inspect` take plain options (--name VALUE,
// --name=VALUE, --flag) and positionals; every unknown or malformed option
// is an error naming it, with exit status 2.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_TOOLS_ARGS_H
#define KILN_TOOLS_ARGS_H

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace kiln {

class Args {
public:
  /// `valued`: options that take a value; `flags`: options that do not.
  Args(int argc, char **argv, std::set<std::string> valued, std::set<std::string> flags);

  bool ok() const { return error.empty(); }
  std::string error;
  std::vector<std::string> positional;

  bool flag(const std::string &name) const { return flags.count(name) > 0; }
  std::optional<std::string> value(const std::string &name) const;
  std::vector<std::string> values(const std::string &name) const;
  /// An integer option (nullopt if absent); sets `error` if malformed.
  std::optional<int64_t> integer(const std::string &name, int64_t min);
  /// Whether --device is cuda (one GPU per rank, its LOCAL_RANK) rather
  /// than cpu (the default); sets `error` on another value.
  bool cuda();

private:
  std::multimap<std::string, std::string> options;
  std::set<std::string> flags;
};

} // namespace kiln

#endif // KILN_TOOLS_ARGS_H
