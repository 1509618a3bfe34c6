//===- Snapshot.cpp - what a run needs to go on exactly after a kill -------===//
#include "runtime/train/Snapshot.h"

#include "runtime/artifact/Crc32.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <unistd.h>

namespace kiln {
namespace {

namespace fs = std::filesystem;

uint32_t dataCrc(const TensorMap &tensors) {
  uint32_t crc = 0;
  for (auto &[name, t] : tensors)
    crc = crc32(t.data.data(), t.data.size(), crc);
  return crc;
}

} // namespace

std::vector<std::string> snapshotFiles(const std::string &runDir) {
  std::vector<std::string> files;
  std::error_code ec;
  for (auto &e : fs::directory_iterator(fs::path(runDir) / "snapshots", ec))
    if (e.path().filename().string().rfind("step-", 0) == 0 && e.path().extension() == ".safetensors")
      files.push_back(e.path().string());
  std::sort(files.begin(), files.end()); // names sort by step
  return files;
}

bool writeSnapshot(const std::string &runDir, const SnapshotInfo &info, TensorMap params,
                   TensorMap state, int keep, std::string &error) {
  fs::path dir = fs::path(runDir) / "snapshots";
  std::error_code ec;
  fs::create_directories(dir, ec);
  TensorMap all;
  for (auto &[name, t] : params)
    all["param:" + name] = std::move(t);
  for (auto &[name, t] : state)
    all["state:" + name] = std::move(t);
  Metadata meta{{"kiln_snapshot", "1"},
                {"step", std::to_string(info.step)},
                {"seed", std::to_string(info.seed)},
                {"world_size", std::to_string(info.worldSize)},
                {"artifact_crc32", info.artifactCrc},
                {"training_key", info.trainingKey},
                {"run_id", info.runId},
                {"data_crc32", crc32Hex(dataCrc(all))}};
  char name[64];
  std::snprintf(name, sizeof name, "step-%09lld.safetensors", (long long)info.step);
  std::string final = (dir / name).string();
  if (!writeSafetensors(final, all, error, meta)) {
    auto files = snapshotFiles(runDir);
    error += files.empty() ? "; there is no earlier snapshot"
                           : "; the previous snapshot " + files.back() + " is intact";
    return false;
  }
  auto files = snapshotFiles(runDir);
  for (size_t i = 0; i + keep < files.size(); ++i)
    fs::remove(files[i], ec);
  // Temporary files of writes a kill interrupted: only those of processes
  // that are gone (the name ends in the writer's pid).
  for (auto &e : fs::directory_iterator(dir, ec)) {
    std::string file = e.path().filename().string();
    size_t at = file.rfind(".tmp-");
    if (at == std::string::npos)
      continue;
    pid_t writer = static_cast<pid_t>(std::atoll(file.c_str() + at + 5));
    if (writer > 0 && ::kill(writer, 0) != 0 && errno == ESRCH)
      fs::remove(e.path(), ec);
  }
  return true;
}

bool loadNewestSnapshot(const std::string &runDir, const SnapshotInfo &expected, bool &found,
                        SnapshotInfo &info, TensorMap &params, TensorMap &state,
                        std::vector<std::string> &warnings, std::string &error) {
  found = false;
  auto files = snapshotFiles(runDir);
  for (auto it = files.rbegin(); it != files.rend(); ++it) {
    TensorMap all;
    Metadata meta;
    std::string why;
    if (!readSafetensors(*it, all, why, &meta)) {
      warnings.push_back("skipping the damaged snapshot " + why);
      continue;
    }
    if (meta["kiln_snapshot"] != "1" || !meta.count("step") || !meta.count("data_crc32")) {
      warnings.push_back("skipping " + *it + ": not a kiln snapshot (no step or checksum)");
      continue;
    }
    if (meta["data_crc32"] != crc32Hex(dataCrc(all))) {
      warnings.push_back("skipping the damaged snapshot " + *it +
                         ": checksum mismatch (the file was modified or damaged)");
      continue;
    }
    // Only this run's: a snapshot copied in from another run, even of the
    // same artifact and seed, would continue that run instead.
    if (meta["run_id"] != expected.runId) {
      warnings.push_back("skipping " + *it + ": it belongs to " +
                         (meta["run_id"].empty() ? std::string("a run without an id (kiln before "
                                                               "run ids)")
                                                 : "run " + meta["run_id"]) +
                         ", not to this directory's run " + expected.runId);
      continue;
    }
    info.step = std::stoll(meta["step"]);
    info.seed = std::stoull(meta["seed"]);
    info.worldSize = std::stoi(meta["world_size"]);
    info.artifactCrc = meta["artifact_crc32"];
    info.trainingKey = meta.count("training_key") ? meta["training_key"] : "";
    info.runId = meta["run_id"];
    // The same training (key) continues at another world size or sharding;
    // where either run has no key, only the same artifact and world size.
    bool keyed = !info.trainingKey.empty() && !expected.trainingKey.empty();
    auto refuse = [&](const std::string &what, const std::string &was, const std::string &is) {
      error = *it + " was written by " + what + " " + was + ", this run has " + is +
              (keyed ? ": resume with the same graph, global batch, precision and seed"
                     : ": resume with the same artifact, seed and world size") +
              ", or use another --out";
      return false;
    };
    if (keyed && info.trainingKey != expected.trainingKey)
      return refuse("a training with key", info.trainingKey, expected.trainingKey);
    if (!keyed && info.artifactCrc != expected.artifactCrc)
      return refuse("the artifact with manifest CRC-32", info.artifactCrc, expected.artifactCrc);
    if (!keyed && info.worldSize != expected.worldSize)
      return refuse("world size", std::to_string(info.worldSize),
                    std::to_string(expected.worldSize));
    if (info.seed != expected.seed)
      return refuse("seed", std::to_string(info.seed), std::to_string(expected.seed));
    for (auto &[name, t] : all)
      (name.rfind("param:", 0) == 0 ? params : state)[name.substr(6)] = std::move(t);
    found = true;
    return true;
  }
  return true;
}

} // namespace kiln
