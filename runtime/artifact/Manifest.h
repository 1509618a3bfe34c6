//===- Manifest.h - the artifact's manifest.json ------------------*- C++ -*-===//
//
// An artifact (OUT.kiln/) is a directory:
//   manifest.json        this structure, with a CRC-32 of its body
//   kernels.so           the kernel library (compiled for `cpu`)
//   params.safetensors   initial parameters, by their dotted names
//   state.safetensors    initial state (optimizer state, DINO centre, ...)
//   constants.safetensors constant buffers, by buffer id
//   step.mlir            the final IR, as text
// The manifest lists every other file with its size and CRC-32; the
// compiler writes it, the runtime reads and validates it.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_RUNTIME_ARTIFACT_MANIFEST_H
#define KILN_RUNTIME_ARTIFACT_MANIFEST_H

#include "runtime/artifact/Program.h"

#include <nlohmann/json.hpp>

#include <map>

namespace kiln {

constexpr int kArtifactVersion = 7;

struct ArtifactFile {
  int64_t bytes = 0;
  uint32_t crc32 = 0;
};

/// The GPU architectures `kiln compile --target=cuda` emits PTX for.
inline const std::vector<std::string> kCudaArchs = {"sm_80", "sm_90"};

struct Manifest {
  int version = kArtifactVersion;
  std::string model, source;
  std::string cpu, cpuFeatures; // what kernels.so was compiled for
  /// GPU architectures with kernels.ARCH.ptx (empty: a CPU-only artifact).
  std::vector<std::string> cudaArchs;
  int64_t batchSize = 0, evalBatchSize = 0;
  CompiledModel compiled;
  /// Inputs the runtime fills: per program, name, what feeds it.
  struct Input {
    std::string program, name, source;
    int64_t buffer;
    /// Labels: the classes the graph one-hot encodes them into (values
    /// must lie in [0, classes)); 0 when the input is not such labels.
    int64_t classes = 0;
  };
  std::vector<Input> inputs;
  struct Schedule {
    std::string name;
    nlohmann::ordered_json spec;
    int64_t buffer;
  };
  std::vector<Schedule> schedules;
  nlohmann::ordered_json data, train, optimizer, networks;
  /// What a snapshot must match to resume in this artifact, whatever its
  /// world size and sharding (kiln compile: a CRC-32 of the graph as
  /// imported for one rank and of the options that change the numbers);
  /// empty: the same artifact and world size.
  std::string trainingKey;
  std::map<std::string, ArtifactFile> files;
};

/// The manifest as JSON (without the checksum wrapper).
nlohmann::ordered_json manifestToJson(const Manifest &m);

/// Reads and validates a manifest body; false with `error` naming the
/// JSON path of the problem.
bool manifestFromJson(const nlohmann::ordered_json &body, Manifest &m, std::string &error);

/// manifest.json: {"crc32": N, "manifest": body}.
bool writeManifest(const std::string &path, const Manifest &m, std::string &error);
bool readManifest(const std::string &path, Manifest &m, std::string &error);

/// Whether `dir` is a directory kiln wrote as an artifact (its
/// manifest.json says "format": "kiln-artifact", of any version), which a
/// new compile may replace; nothing else is ever replaced.
bool isArtifactDirectory(const std::string &dir);

} // namespace kiln

#endif // KILN_RUNTIME_ARTIFACT_MANIFEST_H
