//===- Schedule.cpp - per-step scalar schedules ---------------------------===//
#include "runtime/train/Schedule.h"

#include "runtime/artifact/Kinds.h"

#include <algorithm>
#include <cmath>

namespace kiln {

namespace {

double num(const nlohmann::json &spec, const char *key, double fallback) {
  return spec.contains(key) ? spec[key].get<double>() : fallback;
}

/// numpy.linspace(start, stop, n)[i], both ends included.
double linspace(double start, double stop, int64_t n, int64_t i) {
  return n == 1 ? start : start + (stop - start) * static_cast<double>(i) / (n - 1);
}

} // namespace

std::string checkSchedule(const nlohmann::json &spec) {
  if (!spec.is_object() || !spec.contains("kind") || !spec["kind"].is_string())
    return "a schedule is an object with a string 'kind'";
  std::string kind = spec["kind"];
  const DictKind *k = findKind(kScheduleKinds, kind);
  if (!k)
    return "unknown schedule kind '" + kind + "'";
  for (const DictKey &key : k->keys)
    if (key.required && !spec.contains(key.name))
      return "schedule kind '" + kind + "' needs '" + key.name + "'";
  if (kind == "epoch_linear_warmup" && spec.contains("warmup_epochs") == spec.contains("warmup_fraction"))
    return "schedule kind 'epoch_linear_warmup' needs one of 'warmup_epochs' and 'warmup_fraction'";
  if (spec.contains("warmup_epochs") && spec.contains("warmup_fraction"))
    return "give 'warmup_epochs' or 'warmup_fraction', not both";
  for (auto &[key, value] : spec.items()) {
    if (key == "kind" || key == "doc")
      continue;
    const DictKey *known = k->key(key);
    if (!known)
      return "schedule kind '" + kind + "' takes no key '" + key + "'";
    if (known->type == KeyType::Bool ? !value.is_boolean() : !value.is_number())
      return "schedule key '" + key + "' has the wrong type";
  }
  return "";
}

double evaluateSchedule(const nlohmann::json &spec, const ScheduleClock &c) {
  std::string kind = spec["kind"];
  if (kind == "constant")
    return num(spec, "value", 0.0);
  if (kind == "from_epoch")
    return c.epoch >= static_cast<int64_t>(num(spec, "epoch", 0.0)) ? 1.0 : 0.0;
  if (kind == "epoch_linear_warmup") {
    // ref.py's DINO: max(1, round(fraction · epochs)) epochs, at most all.
    int64_t fromFraction = std::nearbyint(num(spec, "warmup_fraction", 0.0) * c.epochs);
    auto warmup = spec.contains("warmup_fraction")
                      ? std::min<int64_t>(std::max<int64_t>(1, fromFraction), c.epochs)
                      : static_cast<int64_t>(num(spec, "warmup_epochs", 0.0));
    double start = num(spec, "start", 0.0), end = num(spec, "end", 0.0);
    return c.epoch < warmup ? linspace(start, end, warmup, c.epoch) : end;
  }
  // warmup_cosine
  double base = num(spec, "base", 0.0), final = num(spec, "final", 0.0);
  if (spec.value("scale_with_batch", false))
    base *= static_cast<double>(c.globalBatch) / 256.0;
  int64_t total = c.epochs * c.itersPerEpoch;
  // warmup_fraction: of all iterations, rounded as numpy does (DINO's 10%).
  auto warmup = spec.contains("warmup_fraction")
                    ? static_cast<int64_t>(std::nearbyint(num(spec, "warmup_fraction", 0.0) * total))
                    : static_cast<int64_t>(
                          std::llround(num(spec, "warmup_epochs", 0.0) * c.itersPerEpoch));
  warmup = std::clamp<int64_t>(warmup, 0, total);
  int64_t it = std::clamp<int64_t>(c.iteration, 0, total - 1);
  if (it < warmup)
    return linspace(num(spec, "start_warmup_value", 0.0), base, warmup, it);
  double progress = static_cast<double>(it - warmup) / static_cast<double>(total - warmup);
  return final + 0.5 * (base - final) * (1.0 + std::cos(M_PI * progress));
}

} // namespace kiln
