//===- Schedule.h - per-step scalar schedules ---------------------*- C++ -*-===//
//
// The runtime evaluates every `kiln.schedule` once per step and feeds the
// value to the step as a scalar. The kinds and their exact semantics
// (docs/graph-format.md, "state, schedules"):
//
//   constant             value
//   warmup_cosine        DINO utils.cosine_scheduler, per iteration: a
//                        linspace warmup (both ends included) then
//                        final + ½(base - final)(1 + cos(π·i/n)), which never
//                        reaches `final`; base × global batch/256 with
//                        scale_with_batch
//   epoch_linear_warmup  linspace(start, end, warmup_epochs) per epoch, then end
//   from_epoch           0 before `epoch`, 1 from it on (freezing)
//
//===----------------------------------------------------------------------===//
#ifndef KILN_RUNTIME_TRAIN_SCHEDULE_H
#define KILN_RUNTIME_TRAIN_SCHEDULE_H

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>

namespace kiln {

/// Where training stands when a step starts.
struct ScheduleClock {
  int64_t iteration = 0;     // global step, from 0
  int64_t epoch = 0;         // from 0
  int64_t itersPerEpoch = 1; // steps in one epoch
  int64_t epochs = 1;        // planned epochs
  int64_t globalBatch = 1;   // batch size summed over ranks
};

/// An empty string if `spec` is a schedule the runtime can evaluate, else
/// what is wrong with it.
std::string checkSchedule(const nlohmann::json &spec);

/// The value of the (checked) schedule at `clock`. Iterations past the
/// planned end read the last planned value.
double evaluateSchedule(const nlohmann::json &spec, const ScheduleClock &clock);

} // namespace kiln

#endif // KILN_RUNTIME_TRAIN_SCHEDULE_H
