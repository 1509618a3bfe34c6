//===- LoaderFuzzer.cpp - libFuzzer target: artifact and snapshot loaders --===//
//
// Any bytes as (1) an artifact's manifest body, when they parse as JSON,
// (2) a safetensors file (parameters, state, constants, weights), and (3)
// the only snapshot of a run directory that --resume looks into. Each must
// be accepted or refused with an error, never crash.
//
//===----------------------------------------------------------------------===//
#include "runtime/artifact/Manifest.h"
#include "runtime/artifact/Safetensors.h"
#include "runtime/train/Snapshot.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <unistd.h>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  std::string text(reinterpret_cast<const char *>(data), size), error;
  auto json = nlohmann::ordered_json::parse(text, nullptr, false);
  if (!json.is_discarded()) {
    kiln::Manifest m;
    (void)kiln::manifestFromJson(json, m, error);
  }
  static std::string dir = std::string(std::getenv("KILN_FUZZ_DIR") ? std::getenv("KILN_FUZZ_DIR")
                                                                    : ".") +
                           "/run-" + std::to_string(::getpid());
  std::filesystem::create_directories(dir + "/snapshots");
  std::string file = dir + "/snapshots/step-000000001.safetensors";
  std::ofstream(file, std::ios::binary).write(text.data(), text.size());
  kiln::TensorMap tensors, params, state;
  kiln::Metadata meta;
  (void)kiln::readSafetensors(file, tensors, error, &meta);
  bool found = false;
  kiln::SnapshotInfo expected, info;
  std::vector<std::string> warnings;
  (void)kiln::loadNewestSnapshot(dir, expected, found, info, params, state, warnings, error);
  return 0;
}
