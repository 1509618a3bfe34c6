//===- Args.cpp - command lines of the runtime subcommands ----------------===//
#include "Args.h"

#include <cctype>

namespace kiln {

Args::Args(int argc, char **argv, std::set<std::string> valued, std::set<std::string> known) {
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    // "-o" is the one-letter spelling of an option named "o".
    bool shortOption = a.size() == 2 && a[0] == '-' && std::isalpha(static_cast<unsigned char>(a[1]));
    if ((a.rfind("--", 0) != 0 || a == "--") && !shortOption) {
      positional.push_back(a);
      continue;
    }
    std::string name = a.substr(shortOption ? 1 : 2), value;
    bool hasValue = false;
    if (auto eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
      hasValue = true;
    }
    if (known.count(name) && !hasValue) {
      flags.insert(name);
      continue;
    }
    if (!valued.count(name)) {
      error = "unknown option '--" + name + "'";
      return;
    }
    if (!hasValue) {
      if (i + 1 >= argc) {
        error = "option '--" + name + "' needs a value";
        return;
      }
      value = argv[++i];
    }
    options.insert({name, value});
  }
}

std::optional<std::string> Args::value(const std::string &name) const {
  auto it = options.find(name);
  if (it == options.end())
    return std::nullopt;
  return it->second;
}

std::vector<std::string> Args::values(const std::string &name) const {
  std::vector<std::string> out;
  for (auto [it, end] = options.equal_range(name); it != end; ++it)
    out.push_back(it->second);
  return out;
}

std::optional<int64_t> Args::integer(const std::string &name, int64_t min) {
  auto v = value(name);
  if (!v)
    return std::nullopt;
  try {
    size_t used;
    int64_t n = std::stoll(*v, &used);
    if (used == v->size() && n >= min)
      return n;
  } catch (...) {
  }
  error = "option '--" + name + "' needs an integer >= " + std::to_string(min) + ", got '" + *v + "'";
  return std::nullopt;
}

bool Args::cuda() {
  std::string d = value("device").value_or("cpu");
  if (d != "cpu" && d != "cuda" && error.empty())
    error = "--device: '" + d + "' is not cpu or cuda";
  return d == "cuda";
}

} // namespace kiln
