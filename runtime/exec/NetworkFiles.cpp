//===- NetworkFiles.cpp - a frozen network's weights, read at train time --===//
#include "runtime/exec/NetworkFiles.h"

#include <algorithm>
#include <filesystem>
#include <vector>

namespace kiln {
namespace {

namespace fs = std::filesystem;

/// How the file comes to exist: a run's params.safetensors is made by
/// training the graph named like the run (beside this graph), else by
/// kiln export.
std::string howToMake(const std::string &file, const std::string &graph, const std::string &net) {
  fs::path f = fs::path(file).lexically_normal();
  std::string instead = " (or give kiln train --init-from FILE --init-network " + net + ")";
  if (f.filename() == "params.safetensors") {
    fs::path run = f.parent_path();
    fs::path sibling = fs::path(graph).parent_path() / (run.filename().string() + ".json");
    if (fs::exists(sibling))
      return "make it by training that model first: kiln train " +
             fs::proximate(sibling).lexically_normal().string() + " --out " +
             fs::proximate(run).string() + instead;
    return "it is a kiln train run's parameters: train that model with --out " +
           fs::proximate(run).string() + instead;
  }
  return "write it with kiln export RUN --network NAME -o FILE" + instead;
}

} // namespace

std::set<std::string> networksWithFiles(const Manifest &m) {
  std::set<std::string> out;
  for (auto &[name, net] : m.networks.items())
    if (net.contains("init_from"))
      out.insert(name);
  return out;
}

bool loadNetworkFiles(Executor &exec, const std::set<std::string> &given, std::string &error) {
  const Manifest &m = exec.manifest();
  for (const std::string &name : networksWithFiles(m)) {
    if (given.count(name))
      continue;
    const auto &net = m.networks[name];
    std::string file = net["init_from"].get<std::string>();
    std::string prefix = net.value("init_prefix", "");
    const auto &at = net.value("init_from_at", nlohmann::ordered_json::object());
    std::string graph = at.value("graph", m.source);
    std::string where = fs::proximate(graph).string() + ":" +
                        std::to_string(at.value("line", 1)) + ":" +
                        std::to_string(at.value("col", 1)) + ": /networks/" + name + "/init_from: ";
    TensorMap tensors, picked;
    std::string why;
    if (!readSafetensors(file, tensors, why)) {
      error = where + why + "; " + howToMake(file, graph, name);
      return false;
    }
    std::string problems;
    // The network's parameters and module state, by the manifest (reading
    // the tensors themselves would copy every network's, from the GPU too).
    for (const Buffer &b : m.compiled.buffers) {
      const std::string &ours = b.name;
      if ((b.kind != "param" && b.kind != "state") ||
          ours.compare(0, name.size() + 1, name + ".") != 0)
        continue;
      std::string theirs = prefix + ours.substr(name.size() + 1);
      auto it = tensors.find(theirs);
      if (it == tensors.end())
        problems += "\n  no tensor '" + theirs + "' for " + ours;
      else if (it->second.shape != b.shape || it->second.dtype != safetensorsDtype(b.dtype))
        problems += "\n  '" + theirs + "' is " + it->second.dtype + " of another shape than " + ours;
      else
        picked[ours] = it->second;
    }
    if (!problems.empty()) {
      error = where + file + " does not fit network '" + name + "' (init_prefix '" + prefix +
              "'):" + problems;
      return false;
    }
    if (!exec.setNetworkTensors(picked, file, error))
      return false;
  }
  return true;
}

bool loadRunParams(Executor &exec, const std::string &path, bool allowPartial,
                   std::string &error) {
  TensorMap given;
  if (!readSafetensors(path, given, error))
    return false;
  TensorMap model = exec.networkTensors();
  std::set<std::string> networks;
  for (auto &[name, t] : model)
    networks.insert(name.substr(0, name.find('.')));
  for (auto &[name, t] : given) {
    if (model.count(name))
      continue;
    error = path + ": '" + name + "' is not a parameter or module state of this model";
    for (const std::string &n : networks)
      if (std::all_of(given.begin(), given.end(),
                      [&](auto &e) { return model.count(n + "." + e.first) > 0; }))
        error += " (the file's names lack the network prefix '" + n +
                 ".', as kiln export writes them: kiln train --init-from reads such files)";
    return false;
  }
  std::vector<std::string> missing;
  for (auto &[name, t] : model)
    if (!given.count(name))
      missing.push_back(name);
  if (!missing.empty() && !allowPartial) {
    error = path + ": " + std::to_string(missing.size()) + " of the model's " +
            std::to_string(model.size()) + " parameters and module state are missing (give "
            "--allow-partial to keep their initial values):";
    for (size_t i = 0; i < missing.size() && i < 10; ++i)
      error += "\n  " + missing[i];
    if (missing.size() > 10)
      error += "\n  … and " + std::to_string(missing.size() - 10) + " more";
    return false;
  }
  return exec.setNetworkTensors(given, path, error);
}

} // namespace kiln
