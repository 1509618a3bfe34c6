//===- Kinds.h - the kinds of init and schedule dictionaries ----*- C++ -*-===//
//
// A parameter's or state's `init` and a schedule's spec are dictionaries
// {"kind": ..., keys...}. Their kinds and the keys each takes are listed
// here once: the dialect's verifiers (kiln.param, kiln.state,
// kiln.schedule) and the runtime's schedule check read the same tables.
// Plain C++, so that the runtime includes it without MLIR.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_RUNTIME_ARTIFACT_KINDS_H
#define KILN_RUNTIME_ARTIFACT_KINDS_H

#include <algorithm>
#include <string_view>
#include <vector>

namespace kiln {

/// What the value of a key must be.
enum class KeyType { Number, String, Bool };

/// One key of an init or schedule dictionary.
struct DictKey {
  const char *name;
  KeyType type;
  bool required;
};

/// A kind and the keys it takes besides "kind".
struct DictKind {
  const char *kind;
  std::vector<DictKey> keys;

  /// The key called `name`, or null.
  const DictKey *key(std::string_view name) const {
    auto it = std::find_if(keys.begin(), keys.end(),
                           [&](const DictKey &k) { return name == k.name; });
    return it == keys.end() ? nullptr : &*it;
  }
};

/// The kind called `name` in `kinds`, or null.
inline const DictKind *findKind(const std::vector<DictKind> &kinds, std::string_view name) {
  auto it = std::find_if(kinds.begin(), kinds.end(),
                         [&](const DictKind &k) { return name == k.kind; });
  return it == kinds.end() ? nullptr : &*it;
}

/// How parameters and state start (compiler/Artifact/Initializers.cpp).
inline const std::vector<DictKind> kInitKinds = {
    {"zeros", {}},
    {"ones", {}},
    {"constant", {{"value", KeyType::Number, true}}},
    {"normal", {{"std", KeyType::Number, true}, {"mean", KeyType::Number, false}}},
    {"trunc_normal",
     {{"std", KeyType::Number, true},
      {"mean", KeyType::Number, false},
      {"a", KeyType::Number, false},
      {"b", KeyType::Number, false}}},
    {"uniform", {{"low", KeyType::Number, true}, {"high", KeyType::Number, true}}},
    {"fan_in_uniform", {{"fan_in", KeyType::Number, true}}},
    {"copy", {{"from", KeyType::String, true}}},
    {"file", {{"path", KeyType::String, true}, {"tensor", KeyType::String, true}}},
    // A frozen network's `init_from`: read by kiln train, not the compiler
    // (runtime/exec/NetworkFiles.h); zeros in the artifact.
    {"network_file", {{"path", KeyType::String, true}, {"tensor", KeyType::String, true}}},
};

/// Schedules, evaluated per step by the runtime (runtime/train/Schedule.h,
/// docs/graph-format.md).
inline const std::vector<DictKind> kScheduleKinds = {
    {"constant", {{"value", KeyType::Number, true}}},
    // DINO's utils.cosine_scheduler, per iteration, endpoint quirk included.
    {"warmup_cosine",
     {{"base", KeyType::Number, true},
      {"final", KeyType::Number, true},
      {"warmup_epochs", KeyType::Number, false},
      {"warmup_fraction", KeyType::Number, false},
      {"start_warmup_value", KeyType::Number, false},
      {"scale_with_batch", KeyType::Bool, false}}},
    // DINO's teacher temperature: linspace over the first epochs, then flat.
    {"epoch_linear_warmup",
     {{"start", KeyType::Number, true},
      {"end", KeyType::Number, true},
      {"warmup_epochs", KeyType::Number, false},
      {"warmup_fraction", KeyType::Number, false}}},
    // 0 before `epoch`, 1 from it on (written by the optimizer for freezing).
    {"from_epoch", {{"epoch", KeyType::Number, true}}},
};

} // namespace kiln

#endif // KILN_RUNTIME_ARTIFACT_KINDS_H
