//===- ArtifactChecks.cpp - whether an artifact can run here --------------===//
#include "runtime/artifact/ArtifactChecks.h"

#include "runtime/artifact/Crc32.h"

#include <sstream>
#include <vector>

namespace kiln {

bool checkArtifact(const std::string &dir, const Manifest &m, std::string &error) {
  for (auto &[name, f] : m.files) {
    uint32_t crc;
    int64_t bytes;
    std::string path = dir + "/" + name;
    if (!fileCrc32(path, crc, bytes)) {
      error = path + ": missing from the artifact";
      return false;
    }
    if (bytes != f.bytes) {
      error = path + ": " + std::to_string(bytes) + " bytes, the manifest says " +
              std::to_string(f.bytes) + (bytes < f.bytes ? " (truncated)" : "");
      return false;
    }
    if (crc != f.crc32) {
      error = path + ": checksum mismatch (the file was modified or damaged)";
      return false;
    }
  }
  std::string missing;
  if (!cpuSupports(m.cpu, m.cpuFeatures, missing)) {
    error = dir + "/kernels.so was compiled for CPU '" + m.cpu + "' and needs " + missing +
            ", which this CPU lacks; recompile with --cpu=host on this machine";
    return false;
  }
  return true;
}

bool cpuSupports(const std::string &cpu, const std::string &features, std::string &missing) {
  __builtin_cpu_init();
  std::vector<std::string> need;
  if (cpu == "x86-64-v2")
    need = {"sse4.2", "popcnt"};
  else if (cpu == "x86-64-v3")
    need = {"sse4.2", "popcnt", "avx2", "fma", "bmi2"};
  else if (cpu == "x86-64-v4")
    need = {"avx2", "fma", "avx512f", "avx512bw", "avx512dq", "avx512vl"};
  std::stringstream ss(features);
  for (std::string f; std::getline(ss, f, ',');)
    if (f.size() > 1 && f[0] == '+')
      need.push_back(f.substr(1));
  // The features __builtin_cpu_supports can test; others are not checked.
  auto supported = [](const std::string &f) -> int {
#define KILN_FEATURE(name)                                                     \
  if (f == name)                                                               \
    return __builtin_cpu_supports(name) ? 1 : 0;
    KILN_FEATURE("sse4.2") KILN_FEATURE("popcnt") KILN_FEATURE("avx") KILN_FEATURE("avx2")
    KILN_FEATURE("fma") KILN_FEATURE("bmi2") KILN_FEATURE("avx512f") KILN_FEATURE("avx512bw")
    KILN_FEATURE("avx512dq") KILN_FEATURE("avx512vl") KILN_FEATURE("avx512cd")
    KILN_FEATURE("avx512bf16") KILN_FEATURE("avx512vnni")
#undef KILN_FEATURE
    return -1;
  };
  missing.clear();
  for (const std::string &f : need)
    if (supported(f) == 0)
      missing += (missing.empty() ? "" : ", ") + f;
  return missing.empty();
}

} // namespace kiln
