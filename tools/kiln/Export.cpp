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
#include "Args.h"
#include "Subcommands.h"

#include "runtime/artifact/Safetensors.h"
#include "runtime/exec/Executor.h"
#include "runtime/train/Snapshot.h"

#include <cstdio>
#include <filesystem>
#include <set>

namespace kiln {
namespace {

const char *kUsage = "usage: kiln export RUNDIR -o weights.safetensors [--network NAME]\n";

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

} // namespace

int exportMain(int argc, char **argv) {
  Args args(argc, argv, {"o", "network"}, {"help"});
  if (args.flag("help")) {
    std::fputs(kUsage, stdout);
    return 0;
  }
  if (!args.ok() || args.positional.size() != 1 || !args.value("o")) {
    std::fprintf(stderr, "kiln export: %s\n%s",
                 !args.ok() ? args.error.c_str() : "give RUNDIR and -o FILE", kUsage);
    return 2;
  }
  TensorMap params;
  std::string from, error;
  if (!readRunParams(args.positional[0], params, from, error)) {
    std::fprintf(stderr, "kiln export: %s\n", error.c_str());
    return 1;
  }
  std::set<std::string> networks;
  for (auto &[name, t] : params)
    networks.insert(name.substr(0, name.find('.')));
  std::string list;
  for (const std::string &n : networks)
    list += (list.empty() ? "" : ", ") + n;
  std::string network = args.value("network").value_or(networks.size() == 1 ? *networks.begin() : "");
  if (!networks.count(network)) {
    std::fprintf(stderr, "kiln export: %s: %s (networks: %s)\n", from.c_str(),
                 network.empty() ? "several networks, give --network NAME"
                                 : ("no network '" + network + "'").c_str(),
                 list.c_str());
    return network.empty() ? 2 : 1;
  }
  TensorMap out;
  for (auto &[name, t] : params)
    if (name.rfind(network + ".", 0) == 0)
      out[name.substr(network.size() + 1)] = t;
  if (!writeSafetensors(*args.value("o"), out, error)) {
    std::fprintf(stderr, "kiln export: %s\n", error.c_str());
    return 1;
  }
  std::fprintf(stderr, "kiln export: %zu tensors of network '%s' from %s to %s\n", out.size(),
               network.c_str(), from.c_str(), args.value("o")->c_str());
  return 0;
}

} // namespace kiln
