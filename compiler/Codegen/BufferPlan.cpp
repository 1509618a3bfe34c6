//===- BufferPlan.cpp - buffers, in-place updates, the arena -------------===//
#include "compiler/Codegen/Planner.h"

#include "Kiln/IR/KilnDTypes.h"

#include "llvm/Support/raw_ostream.h"

#include <numeric>

using namespace mlir;

namespace kiln {

int64_t Planner::newBuffer(const std::string &name, const std::string &kind, Type type,
                         Region region) {
  Buffer b;
  b.id = model.buffers.size();
  b.name = name;
  b.kind = kind;
  b.dtype = *dtypeOf(type); // the verifier admits no other element type
  auto shape = cast<RankedTensorType>(type).getShape();
  b.shape.assign(shape.begin(), shape.end());
  int64_t n = std::max<int64_t>(1, std::accumulate(b.shape.begin(), b.shape.end(),
                                                   int64_t{1}, std::multiplies<int64_t>()));
  b.bytes = n * elementBytes(b.dtype);
  b.region = region;
  if (region == Region::Persistent) {
    b.offset = model.persistentBytes;
    model.persistentBytes += alignUp(b.bytes);
  }
  model.buffers.push_back(b);
  return b.id;
}

int64_t Planner::persistent(const std::string &name, const std::string &kind, Type type) {
  auto it = persistentByName.find(name);
  if (it != persistentByName.end())
    return it->second;
  int64_t id = newBuffer(name, kind, type, Region::Persistent);
  persistentByName[name] = id;
  return id;
}

Thunk Planner::copyThunk(int64_t from, int64_t to, const std::string &label) const {
  int64_t bytes = model.buffers[to].bytes;
  return Thunk{CopyBytes{from, to, bytes, 0, 0}, {label}, 0, 2 * bytes};
}

/// A sink that reads a parameter or state tensor the step updates (a
/// metric or a loss that is a parameter) reads a copy taken before any
/// thunk runs: sinks are read after the step, when the slot is new.
void Planner::copyUpdatedSinks(Program &program, ArrayRef<std::pair<int64_t, int64_t>> updates) {
  for (Sink &s : program.sinks) {
    if (llvm::none_of(updates, [&](auto u) { return u.first == s.buffer; }))
      continue;
    Buffer copy = model.buffers[s.buffer];
    copy.id = model.buffers.size();
    copy.name = s.kind + " " + s.name;
    copy.kind = "temp";
    copy.region = Region::Arena;
    copy.offset = 0;
    model.buffers.push_back(copy);
    program.thunks.insert(program.thunks.begin(),
                          copyThunk(s.buffer, copy.id,
                                    "copy of " + model.buffers[s.buffer].name + " for " + copy.name));
    s.buffer = copy.id;
  }
}

/// An update whose value is computed elementwise from the old value (or
/// without it), or gathered, by the last thunk to read the slot writes into
/// the slot directly; `updates` keeps the ones that still need a copy.
void Planner::writeUpdatesInPlace(Program &program,
                                  std::vector<std::pair<int64_t, int64_t>> &updates) {
  std::vector<std::pair<int64_t, int64_t>> remaining;
  for (auto [slot, value] : updates) {
    const Buffer &v = model.buffers[value];
    auto writesValue = [&](const Thunk &t) { return t.writes(value); };
    auto producer = std::find_if(program.thunks.begin(), program.thunks.end(), writesValue);
    // A kernel, or a sharded update's all-gather unpacking into the slot.
    bool ok = v.region == Region::Arena && v.shape == model.buffers[slot].shape &&
              producer != program.thunks.end() &&
              (producer->is<KernelLaunch>() || producer->is<AllGatherWait>()) &&
              std::count_if(program.thunks.begin(), program.thunks.end(), writesValue) == 1;
    if (ok) {
      const KernelLaunch *k = producer->as<KernelLaunch>();
      ok = !producer->uses(slot) || (k && llvm::is_contained(k->sameIndexInputs, slot));
      for (auto t = producer + 1; ok && t != program.thunks.end(); ++t)
        ok = !t->uses(slot);
      for (auto [otherSlot, otherValue] : updates)
        ok = ok && (otherSlot == slot || otherValue != slot);
    }
    if (!ok) {
      remaining.push_back({slot, value});
      continue;
    }
    auto rename = [&](int64_t &id, Access = Access::Read) {
      if (id == value)
        id = slot;
    };
    for (Thunk &t : program.thunks)
      t.eachUseMutable(rename);
    for (Sink &s : program.sinks)
      rename(s.buffer);
    for (auto &[s2, v2] : updates)
      rename(v2);
    for (auto &[s2, v2] : remaining)
      rename(v2);
  }
  updates = remaining;
}

/// Greedy placement by size: each temporary takes the lowest aligned
/// offset that no temporary alive at the same time occupies.
void Planner::placeArena(Program &program, size_t firstBuffer) {
  size_t n = model.buffers.size();
  std::vector<int64_t> first(n, -1), last(n, -1);
  for (auto [i, t] : llvm::enumerate(program.thunks))
    t.eachUse([&, i = int64_t(i)](int64_t id, Access) {
      if (first[id] < 0)
        first[id] = i;
      last[id] = i;
    });
  int64_t end = program.thunks.size();
  for (const Sink &s : program.sinks) {
    if (first[s.buffer] < 0)
      first[s.buffer] = end;
    last[s.buffer] = end;
  }
  std::vector<int64_t> temps;
  for (size_t id = firstBuffer; id < n; ++id)
    if (model.buffers[id].region == Region::Arena && first[id] >= 0)
      temps.push_back(id);
  std::sort(temps.begin(), temps.end(), [&](int64_t x, int64_t y) {
    return model.buffers[x].bytes > model.buffers[y].bytes;
  });
  std::vector<int64_t> placed;
  for (int64_t id : temps) {
    std::vector<std::pair<int64_t, int64_t>> busy;
    for (int64_t p : placed)
      if (first[p] <= last[id] && first[id] <= last[p])
        busy.push_back({model.buffers[p].offset, model.buffers[p].offset + model.buffers[p].bytes});
    std::sort(busy.begin(), busy.end());
    int64_t offset = 0;
    for (auto [lo, hi] : busy) {
      if (offset + model.buffers[id].bytes <= lo)
        break;
      offset = std::max(offset, alignUp(hi));
    }
    model.buffers[id].offset = offset;
    program.arenaBytes = std::max(program.arenaBytes, alignUp(offset + model.buffers[id].bytes));
    placed.push_back(id);
  }
}

void planBuffers(StepPlan &plan) {
  Planner planner(plan);
  for (auto [i, program] : llvm::enumerate(plan.model.programs)) {
    std::vector<std::pair<int64_t, int64_t>> &updates = plan.updates[i];
    planner.copyUpdatedSinks(program, updates);
    planner.writeUpdatesInPlace(program, updates);
    for (auto [slot, value] : updates)
      program.thunks.push_back(
          planner.copyThunk(value, slot, "update " + plan.model.buffers[slot].name));
    planner.placeArena(program, plan.firstBuffer[i]);
  }
}

std::string describePlan(const CompiledModel &model) {
  std::string s;
  llvm::raw_string_ostream os(s);
  os << "persistent: " << model.persistentBytes << " bytes\n";
  for (const Program &p : model.programs)
    os << p.entry << ": arena " << p.arenaBytes << " bytes, " << p.thunks.size()
       << " thunks\n";
  os << "\nid  region      offset      bytes  dtype  shape  kind  name\n";
  for (const Buffer &b : model.buffers) {
    os << b.id << "  " << (b.region == Region::Arena ? "arena" : "persistent") << "  "
       << b.offset << "  " << b.bytes << "  " << dtypeName(b.dtype) << "  [";
    for (auto [i, d] : llvm::enumerate(b.shape))
      os << (i ? "x" : "") << d;
    os << "]  " << b.kind << "  " << b.name << "\n";
  }
  return s;
}

} // namespace kiln
