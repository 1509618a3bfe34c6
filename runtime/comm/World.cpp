//===- World.cpp - this process's place among the ranks -------------------===//
#include "runtime/comm/World.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

namespace kiln {
namespace {

/// A non-negative integer variable; false with `error` when it is set but
/// malformed.
bool readInt(const std::function<const char *(const char *)> &getenv, const char *name,
             int &value, std::string &error) {
  const char *text = getenv(name);
  if (!text)
    return true;
  char *end = nullptr;
  long v = std::strtol(text, &end, 10);
  if (*text == '\0' || *end != '\0' || v < 0 || v > (1 << 24)) {
    error = std::string("environment variable ") + name + "='" + text +
            "' is not a non-negative integer";
    return false;
  }
  value = static_cast<int>(v);
  return true;
}

/// KILN_JOB_SECRET, or the contents of the file KILN_JOB_SECRET_FILE names
/// (without trailing line breaks), which only its owner may read.
bool readSecret(const std::function<const char *(const char *)> &getenv, std::string &secret,
                std::string &error) {
  const char *file = getenv("KILN_JOB_SECRET_FILE");
  if (const char *text = getenv("KILN_JOB_SECRET"); text && *text) {
    if (file) {
      error = "KILN_JOB_SECRET and KILN_JOB_SECRET_FILE are both set: give one";
      return false;
    }
    secret = text;
    return true;
  }
  if (!file)
    return true;
  struct stat st{};
  std::ifstream in(file, std::ios::binary);
  if (!in || ::stat(file, &st) != 0) {
    error = std::string("KILN_JOB_SECRET_FILE ") + file + ": cannot read it: " + std::strerror(errno);
    return false;
  }
  if (st.st_mode & (S_IRWXG | S_IRWXO)) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", unsigned(st.st_mode & 07777));
    error = std::string("KILN_JOB_SECRET_FILE ") + file + " may be read by others (mode " + mode +
            "): chmod 600 " + file;
    return false;
  }
  std::stringstream text;
  text << in.rdbuf();
  secret = text.str();
  while (!secret.empty() && (secret.back() == '\n' || secret.back() == '\r'))
    secret.pop_back();
  if (secret.empty()) {
    error = std::string("KILN_JOB_SECRET_FILE ") + file + " is empty";
    return false;
  }
  return true;
}

} // namespace

bool detectWorld(World &world, std::string &error,
                 const std::function<const char *(const char *)> &getenvOr) {
  auto getenv = getenvOr ? getenvOr : [](const char *n) -> const char * { return std::getenv(n); };
  struct Launcher {
    const char *name, *rank, *size, *localRank, *localSize;
  };
  const Launcher launchers[] = {
      {"mpirun", "OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_LOCAL_RANK",
       "OMPI_COMM_WORLD_LOCAL_SIZE"},
      {"srun", "SLURM_PROCID", "SLURM_NTASKS", "SLURM_LOCALID", "SLURM_NTASKS_PER_NODE"},
      {"torchrun", "RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE"},
  };
  world = World();
  for (const Launcher &l : launchers) {
    // Half of torchrun's pair is a mistake, not one rank alone (Slurm
    // shells set SLURM_NTASKS without SLURM_PROCID: only srun sets both).
    if (std::string(l.name) == "torchrun" && !getenv(l.rank) != !getenv(l.size)) {
      error = std::string(getenv(l.rank) ? l.rank : l.size) + " is set but " +
              (getenv(l.rank) ? l.size : l.rank) + " is not: set both, or neither to train alone";
      return false;
    }
    if (!getenv(l.rank))
      continue;
    world.launcher = l.name;
    if (!readInt(getenv, l.rank, world.rank, error) ||
        !readInt(getenv, l.size, world.size, error) ||
        !readInt(getenv, l.localRank, world.localRank, error) ||
        !readInt(getenv, l.localSize, world.localSize, error))
      return false;
    if (world.size < 1 || world.rank >= world.size || world.localSize < 1) {
      error = std::string(l.rank) + "=" + std::to_string(world.rank) + " is not below " +
              l.size + "=" + std::to_string(world.size);
      return false;
    }
    break;
  }
  if (world.launcher == "torchrun" && world.size > 1) {
    const char *addr = getenv("MASTER_ADDR");
    world.masterAddr = addr ? addr : "";
    if (world.masterAddr.empty() || !getenv("MASTER_PORT")) {
      error = "RANK and WORLD_SIZE are set but MASTER_ADDR or MASTER_PORT is not: set both "
              "to rank 0's host and a free port (torchrun does)";
      return false;
    }
    if (!readInt(getenv, "MASTER_PORT", world.masterPort, error))
      return false;
    if (world.masterPort < 1 || world.masterPort > 65535) {
      error = "MASTER_PORT=" + std::to_string(world.masterPort) + " is not a port (1-65535)";
      return false;
    }
    for (const char *name : {"KILN_JOB_ID", "SLURM_JOB_ID", "TORCHELASTIC_RUN_ID"})
      if (const char *id = getenv(name); id && *id && world.jobId.empty()) {
        world.jobId = id;
        world.jobIdFrom = name;
      }
    if (!readSecret(getenv, world.secret, error))
      return false;
  }
  return true;
}

} // namespace kiln
