//===- Export.cpp - kiln export ----------------------------------------------===//
//
// kiln export RUNDIR -o weights.safetensors [--network NAME]: one network's
// trained weights and module state (batch norm's running statistics) under
// the names a PyTorch module of the same structure uses (the network's
// prefix dropped: "net.backbone.norm.weight" becomes
// "backbone.norm.weight"), from RUNDIR/params.safetensors or, when the run
// has not finished, its newest snapshot.
//
//===----------------------------------------------------------------------===//
#include "CommandLine.h"
#include "Subcommands.h"

#include "runtime/artifact/DurableFile.h"
#include "runtime/artifact/Safetensors.h"
#include "runtime/exec/Executor.h"
#include "runtime/train/Snapshot.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <set>

namespace kiln {
namespace {

/// RUNDIR/params.safetensors, else the parameters and module state of the
/// newest snapshot.
bool readRunParams(const std::string &runDir, TensorMap &params, std::string &from,
                   std::string &error) {
  namespace fs = std::filesystem;
  from = runDir + "/params.safetensors";
  if (fs::exists(from))
    return readSafetensors(from, params, error);
  std::vector<std::string> snapshots = snapshotFiles(runDir);
  if (snapshots.empty()) {
    error = runDir + ": no params.safetensors and no snapshot (is it a kiln train --out directory?)";
    return false;
  }
  from = snapshots.back();
  TensorMap all, state;
  if (!readSafetensors(from, all, error))
    return false;
  for (auto &[name, t] : all)
    if (name.rfind("param:", 0) == 0)
      params[name.substr(6)] = std::move(t);
    else if (name.rfind("state:", 0) == 0)
      state[name.substr(6)] = std::move(t);
  params = networkTensors(params, state);
  return true;
}

/// Whether `out` lies outside `runDir` and is not a directory: the run's
/// own files (its parameters, snapshots) are never written over, and the
/// weights go to a file beside the run, not into it.
bool outsideRun(const std::string &runDir, const std::string &out, std::string &why) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (fs::is_directory(out, ec)) {
    why = "is a directory; give the file to write";
    return false;
  }
  fs::path run = fs::weakly_canonical(runDir, ec), file = fs::weakly_canonical(out, ec);
  if (run.filename().empty()) // "run/"
    run = run.parent_path();
  auto [r, f] = std::mismatch(run.begin(), run.end(), file.begin(), file.end());
  if (r == run.end()) {
    why = "is inside the run directory " + runDir +
          ", whose files kiln train owns; write the export elsewhere";
    return false;
  }
  return true;
}

} // namespace

int exportMain(int argc, char **argv) {
  CommandLine cl("export", "One network's trained weights and module state as safetensors, "
                           "under the names a PyTorch module of the same structure uses.");
  std::string runDir, out;
  std::optional<std::string> networkName;
  cl.positional("RUNDIR", runDir, "a kiln train --out directory");
  cl.app.add_option("-o", out, "the safetensors file to write")->required();
  cl.text("--network", networkName, "the network (default: the run's only one)")->type_name("NAME");
  if (auto status = cl.parse(argc, argv))
    return *status;
  if (std::string why; !outsideRun(runDir, out, why) ||
                        !mayReplace(out, OutputKind::Safetensors, why))
    return cl.usageError("-o " + out + ": " + why);
  TensorMap params;
  std::string from, error;
  if (!readRunParams(runDir, params, from, error)) {
    std::fprintf(stderr, "kiln export: %s\n", error.c_str());
    return 1;
  }
  std::set<std::string> networks;
  for (auto &[name, t] : params)
    networks.insert(name.substr(0, name.find('.')));
  std::string list;
  for (const std::string &n : networks)
    list += (list.empty() ? "" : ", ") + n;
  std::string network = networkName.value_or(networks.size() == 1 ? *networks.begin() : "");
  if (!networks.count(network)) {
    std::fprintf(stderr, "kiln export: %s: %s (networks: %s)\n", from.c_str(),
                 network.empty() ? "several networks, give --network NAME"
                                 : ("no network '" + network + "'").c_str(),
                 list.c_str());
    return network.empty() ? 2 : 1;
  }
  TensorMap weights;
  for (auto &[name, t] : params)
    if (name.rfind(network + ".", 0) == 0)
      weights[name.substr(network.size() + 1)] = t;
  if (!writeSafetensors(out, weights, error)) {
    std::fprintf(stderr, "kiln export: %s\n", error.c_str());
    return 1;
  }
  std::fprintf(stderr, "kiln export: %zu tensors of network '%s' from %s to %s\n", weights.size(),
               network.c_str(), from.c_str(), out.c_str());
  return 0;
}

} // namespace kiln
