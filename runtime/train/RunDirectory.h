//===- RunDirectory.h - one run per directory, one writer at a time -*- C++ -*-===//
//
// A run directory holds one training run: run.json (its id, command line,
// kiln version, artifact, seed, world size, start time), model.kiln,
// metrics.jsonl, snapshots/, and at the end params.safetensors,
// state.safetensors, plot.svg and summary.json. kiln train refuses a
// directory holding another run unless told to go on with it (--resume) or
// to replace it (--overwrite), and holds an exclusive lock on it
// (flock on run.lock, released by the kernel when the process dies) for
// its lifetime, so two trainings never write into one directory.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_RUNTIME_TRAIN_RUNDIRECTORY_H
#define KILN_RUNTIME_TRAIN_RUNDIRECTORY_H

#include <nlohmann/json.hpp>

#include <memory>
#include <string>
#include <vector>

namespace kiln {

class RunDirectory {
public:
  /// What to do with a run already in the directory.
  enum class Existing { Refuse, Resume, Overwrite };

  /// Locks `dir` (creating it) and applies `existing`: Refuse fails if a
  /// run is there, naming it and the choices; Overwrite removes every file
  /// of the run there first; Resume takes its id. A fresh run gets a new
  /// id. Null with `error` (the lock held by another process: its pid, host
  /// and start time); `notes` get what a user should know (a lock taken
  /// over from a process that died).
  static std::unique_ptr<RunDirectory> open(const std::string &dir, Existing existing,
                                            std::string &error, std::vector<std::string> &notes);
  /// Empties the lock file (a clean end leaves no stale holder), unlocks.
  ~RunDirectory();

  const std::string &runId() const { return id; }
  /// Whether the run was there before (a resumed one with its run.json).
  bool resumed() const { return wasThere; }
  /// Writes run.json: `record` with the id, kiln's version and the start
  /// time added. Only for a new run (a resumed one keeps its record).
  bool writeRecord(nlohmann::ordered_json record, std::string &error) const;

private:
  RunDirectory() = default;
  std::string dir, id;
  int lockFd = -1;
  bool wasThere = false;
};

} // namespace kiln

#endif // KILN_RUNTIME_TRAIN_RUNDIRECTORY_H
