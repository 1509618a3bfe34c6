//===- RunDirectory.cpp - one run per directory, one writer at a time -----===//
#include "runtime/train/RunDirectory.h"

#include "runtime/artifact/DurableFile.h"
#include "runtime/train/Snapshot.h"

#include <cerrno>
#include <cstring>
#include <ctime>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <random>
#include <sys/file.h>
#include <unistd.h>

#ifndef KILN_VERSION
#define KILN_VERSION "unknown"
#endif

namespace kiln {
namespace {

namespace fs = std::filesystem;

/// What kiln train writes into a run directory (run.lock aside).
const char *const kRunFiles[] = {"run.json",          "model.kiln",      "metrics.jsonl",
                                 "params.safetensors", "state.safetensors", "summary.json",
                                 "plot.svg",          "snapshots"};

std::string now() {
  std::time_t t = std::time(nullptr);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
  return text;
}

std::string hostName() {
  char host[256] = {};
  ::gethostname(host, sizeof host - 1);
  return host;
}

nlohmann::ordered_json readJson(const std::string &path) {
  std::ifstream in(path);
  auto j = nlohmann::ordered_json::parse(in, nullptr, false);
  return j.is_object() ? j : nlohmann::ordered_json::object();
}

/// Whether `dir` holds what a run leaves once it has taken a step (its
/// metrics, snapshots or results); run.json and model.kiln alone are a run
/// that failed before its first step.
bool steppedRun(const std::string &dir) {
  std::error_code ec;
  for (const char *f : {"metrics.jsonl", "params.safetensors", "state.safetensors",
                        "summary.json"})
    if (fs::exists(fs::path(dir) / f, ec))
      return true;
  return !snapshotFiles(dir).empty();
}

/// The run in `dir`, described for a message.
std::string describeRun(const std::string &dir) {
  auto run = readJson(dir + "/run.json"), summary = readJson(dir + "/summary.json");
  std::vector<std::string> parts;
  std::string model = run.value("model", summary.value("model", std::string()));
  if (!model.empty())
    parts.push_back("model " + model);
  if (run.contains("id"))
    parts.push_back("run " + run.value("id", "") + ", started " + run.value("started", "?"));
  if (summary.contains("steps"))
    parts.push_back("finished after " + std::to_string(summary.value("steps", 0)) + " steps");
  auto snapshots = snapshotFiles(dir);
  parts.push_back(snapshots.empty()
                      ? "no snapshot"
                      : "last snapshot " + fs::path(snapshots.back()).filename().string());
  std::string text;
  for (const std::string &p : parts)
    text += (text.empty() ? "" : "; ") + p;
  return text;
}

std::string newRunId() {
  std::random_device device; // /dev/urandom
  char id[17];
  std::snprintf(id, sizeof id, "%08x%08x", device(), device());
  return id;
}

} // namespace

std::unique_ptr<RunDirectory> RunDirectory::open(const std::string &dir, Existing existing,
                                                 std::string &error,
                                                 std::vector<std::string> &notes) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  std::string lockPath = dir + "/run.lock";
  int fd = ::open(lockPath.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (ec || fd < 0) {
    error = "--out " + dir + ": cannot create or write the run directory: " +
            (ec ? ec.message() : std::string(std::strerror(errno)));
    if (fd >= 0)
      ::close(fd);
    return nullptr;
  }
  char text[512] = {};
  ssize_t n = ::pread(fd, text, sizeof text - 1, 0);
  std::string holder = n > 0 ? std::string(text, n) : "";
  while (!holder.empty() && holder.back() == '\n')
    holder.pop_back();
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    error = dir + " is in use by another kiln train (" +
            (holder.empty() ? std::string("a process starting now") : holder) +
            "): wait for it to end, or give another --out";
    ::close(fd);
    return nullptr;
  }
  // A holder's line left behind means it died holding the lock (a clean end
  // empties the file); the kernel released the lock with it.
  if (!holder.empty())
    notes.push_back("took over " + lockPath + " from " + holder + ", which has ended");
  std::string mine = "pid " + std::to_string(::getpid()) + " on " + hostName() + ", started " +
                     now() + "\n";
  if (::ftruncate(fd, 0) != 0 || ::pwrite(fd, mine.data(), mine.size(), 0) < 0) {
    error = "cannot write " + lockPath + ": " + std::strerror(errno);
    ::close(fd);
    return nullptr;
  }
  std::unique_ptr<RunDirectory> run(new RunDirectory());
  run->dir = dir;
  run->lockFd = fd;
  bool stepped = steppedRun(dir);
  std::string previous = stepped ? describeRun(dir) : "";
  if (!stepped && existing != Existing::Resume) // nothing worth keeping
    for (const char *f : kRunFiles)
      fs::remove_all(fs::path(dir) / f, ec);
  if (!previous.empty() && existing == Existing::Refuse) {
    error = dir + " holds a previous run (" + previous +
            "): give --resume to go on with it, --overwrite to replace it (all of its files "
            "are removed), or another --out";
    return nullptr;
  }
  if (!previous.empty() && existing == Existing::Overwrite) {
    for (const char *f : kRunFiles)
      fs::remove_all(fs::path(dir) / f, ec);
    notes.push_back("removed the previous run in " + dir + " (" + previous + ")");
  }
  auto record = readJson(dir + "/run.json");
  run->wasThere = existing == Existing::Resume && record.contains("id");
  run->id = run->wasThere ? record.value("id", "") : newRunId();
  return run;
}

RunDirectory::~RunDirectory() {
  if (lockFd >= 0) {
    (void)!::ftruncate(lockFd, 0); // at worst a later run notes a holder that ended
    ::close(lockFd);
  }
}

bool RunDirectory::writeRecord(nlohmann::ordered_json record, std::string &error) const {
  nlohmann::ordered_json out = {{"id", id}, {"started", now()}, {"kiln", KILN_VERSION}};
  out.update(record);
  return writeFileAtomically(dir + "/run.json", {out.dump(2) + "\n"}, error);
}

} // namespace kiln
