//===- StepPlanner.cpp - from the step's IR to buffers and thunks ---------===//
#include "compiler/Codegen/StepPlanner.h"

#include "Kiln/IR/KilnOps.h"
#include "compiler/Codegen/FusionKernel.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/Support/raw_ostream.h"

#include <algorithm>
#include <numeric>

using namespace mlir;

namespace kiln {
namespace {

constexpr int64_t kAlign = 64;

int64_t alignUp(int64_t v) { return (v + kAlign - 1) / kAlign * kAlign; }

std::string dtypeOf(Type t) {
  Type e = cast<RankedTensorType>(t).getElementType();
  return e.isF32() ? "f32" : e.isInteger(32) ? "i32" : "i1";
}

/// A value's shape (its buffer may be a reshape's operand's, of another).
std::vector<int64_t> shapeOf(Value v) {
  auto s = cast<RankedTensorType>(v.getType()).getShape();
  return std::vector<int64_t>(s.begin(), s.end());
}

std::string label(Operation *op) {
  if (auto name = dyn_cast<NameLoc>(op->getLoc()))
    return name.getName().str();
  return op->getName().getStringRef().str();
}

struct FusionPlan;

class Planner {
public:
  Planner(KernelEmitter &emitter, CompiledModel &model, ConstantData &constants)
      : emitter(emitter), model(model), constants(constants) {}

  LogicalResult plan(func::FuncOp fn, const std::string &entry);

private:
  int64_t newBuffer(const std::string &name, const std::string &kind, Type type,
                    Region region) {
    Buffer b;
    b.id = model.buffers.size();
    b.name = name;
    b.kind = kind;
    b.dtype = dtypeOf(type);
    auto shape = cast<RankedTensorType>(type).getShape();
    b.shape.assign(shape.begin(), shape.end());
    int64_t n = std::max<int64_t>(1, std::accumulate(b.shape.begin(), b.shape.end(),
                                                     int64_t{1}, std::multiplies<int64_t>()));
    b.bytes = n * (b.dtype == "i1" ? 1 : 4);
    b.region = region;
    if (region == Region::Persistent) {
      b.offset = model.persistentBytes;
      model.persistentBytes += alignUp(b.bytes);
    }
    model.buffers.push_back(b);
    return b.id;
  }

  /// The persistent buffer named `name` (shared by all programs).
  int64_t persistent(const std::string &name, const std::string &kind, Type type) {
    auto it = persistentByName.find(name);
    if (it != persistentByName.end())
      return it->second;
    int64_t id = newBuffer(name, kind, type, Region::Persistent);
    persistentByName[name] = id;
    return id;
  }

  Thunk gemm(MatmulOp op, int64_t a, int64_t b, int64_t c);
  FusionPlan prepareFusion(FusionOp f, ArrayRef<int64_t> inputs,
                           llvm::DenseMap<Value, int64_t> &bufferOf);
  LogicalResult emitFusion(ArrayRef<FusionPlan> plans, Program &program);
  void startAllReduce(AllReduceOp op, ArrayRef<int64_t> operands,
                      llvm::DenseMap<Value, int64_t> &bufferOf, Program &program);
  void placeAllReduceWaits(Program &program);
  void placeArena(Program &program, size_t firstBuffer);
  void writeUpdatesInPlace(Program &program,
                           std::vector<std::pair<int64_t, int64_t>> &updates);
  void copyUpdatedSinks(Program &program, ArrayRef<std::pair<int64_t, int64_t>> updates);
  /// A thunk copying buffer `from` into `to` (of the same size).
  Thunk copyThunk(int64_t from, int64_t to, const std::string &label) const {
    Thunk t{Thunk::Copy};
    t.ops = {label};
    t.buffers = {from, to};
    t.outputs = {to};
    t.bytes = model.buffers[to].bytes;
    t.trafficBytes = 2 * t.bytes;
    return t;
  }

  KernelEmitter &emitter;
  CompiledModel &model;
  ConstantData &constants;
  std::map<std::string, int64_t> persistentByName;
  // Per started bucket: its wait, and the index of its start thunk.
  std::vector<std::pair<Thunk, size_t>> pendingWaits;
};

SmallVector<int64_t> batchStrides(ArrayRef<int64_t> shape, ArrayRef<int64_t> batch) {
  SmallVector<int64_t> rm = rowMajorStrides(shape), s(batch.size(), 0);
  int64_t rank = shape.size() - 2;
  size_t lead = batch.size() - rank;
  for (size_t d = lead; d < batch.size(); ++d)
    if (shape[d - lead] != 1)
      s[d] = rm[d - lead];
  return s;
}

Thunk Planner::gemm(MatmulOp op, int64_t a, int64_t b, int64_t c) {
  // Shapes from the op: an operand may be a view (reshape) of its buffer.
  auto sa = shapeOf(op.getLhs()), sb = shapeOf(op.getRhs()), sc = shapeOf(op.getResult());
  Thunk t{Thunk::Gemm};
  t.ops = {label(op)};
  t.m = sc[sc.size() - 2];
  t.n = sc.back();
  t.k = op.getTransposeLhs() ? sa[sa.size() - 2] : sa.back();
  t.batch.assign(sc.begin(), sc.end() - 2);
  t.a = {a, 0, sa.back(), op.getTransposeLhs(), {}};
  t.b = {b, 0, sb.back(), op.getTransposeRhs(), {}};
  t.c = {c, 0, t.n, false, {}};
  auto ab = batchStrides(sa, t.batch), bb = batchStrides(sb, t.batch);
  t.a.batchStrides.assign(ab.begin(), ab.end());
  t.b.batchStrides.assign(bb.begin(), bb.end());
  auto cb = rowMajorStrides(sc);
  t.c.batchStrides.assign(cb.begin(), cb.end() - 2);
  // A weight against batched rows: one GEMM with the batch folded into M.
  bool weight = llvm::all_of(bb, [](int64_t s) { return s == 0; });
  bool fullA = sa.size() == sc.size() &&
               std::equal(sa.begin(), sa.end() - 2, sc.begin());
  if (!t.batch.empty() && weight && fullA && !op.getTransposeLhs()) {
    for (int64_t d : t.batch)
      t.m *= d;
    t.batch.clear();
    t.a.batchStrides.clear();
    t.b.batchStrides.clear();
    t.c.batchStrides.clear();
  }
  int64_t batches = 1;
  for (int64_t d : t.batch)
    batches *= d;
  t.flops = 2 * t.m * t.n * t.k * batches;
  t.trafficBytes = model.buffers[a].bytes + model.buffers[b].bytes + model.buffers[c].bytes;
  t.outputs = {c};
  t.buffers = {a, b, c};
  return t;
}

/// A region's buffers (its inputs, then its results) before its kernel is
/// emitted: one region alone, or several as one multi-tensor kernel.
struct FusionPlan {
  FusionOp op;
  SmallVector<int64_t> buffers, outputs, sameIndex;
  int64_t flops = 0;
};

FusionPlan Planner::prepareFusion(FusionOp f, ArrayRef<int64_t> inputs,
                                  llvm::DenseMap<Value, int64_t> &bufferOf) {
  FusionPlan plan{f, SmallVector<int64_t>(inputs.begin(), inputs.end()), {}, {}, 0};
  int64_t rows = f->getAttrOfType<IntegerAttr>("rows").getInt();
  int64_t ops = 0;
  f.getBody().walk([&](Operation *) { ++ops; });
  for (Value r : f.getResults()) {
    int64_t id = newBuffer(label(f), "temp", r.getType(), Region::Arena);
    bufferOf[r] = id;
    plan.outputs.push_back(id);
    plan.buffers.push_back(id);
    plan.flops += ops * cast<RankedTensorType>(r.getType()).getNumElements();
    // An input of the same shape is read only in its own rows, before the
    // row's results are written: the result may take its place.
    for (auto [in, v] : llvm::zip(inputs, f.getInputs()))
      if (v.getType() == r.getType() && rows > 1)
        plan.sameIndex.push_back(in);
  }
  return plan;
}

/// What a kernel computes, for listings: the op of a single-op region, a
/// fusion, or several as one multi-tensor kernel.
std::string kernelKind(ArrayRef<FusionPlan> plans) {
  if (plans.size() > 1)
    return "kiln.fusion (multi-tensor)";
  Operation *sole = soleOp(plans.front().op);
  return sole ? sole->getName().getStringRef().str() : "kiln.fusion";
}

LogicalResult Planner::emitFusion(ArrayRef<FusionPlan> plans, Program &program) {
  Thunk t{Thunk::Kernel};
  SmallVector<KernelArg> args;
  SmallVector<size_t> argOffsets;
  for (const FusionPlan &p : plans) {
    t.ops.push_back(label(const_cast<FusionOp &>(p.op)));
    argOffsets.push_back(args.size());
    for (int64_t id : p.buffers) {
      const Buffer &b = model.buffers[id];
      MLIRContext *ctx = const_cast<FusionOp &>(p.op).getContext();
      Type type = b.dtype == "f32"   ? Type(Float32Type::get(ctx))
                  : b.dtype == "i32" ? Type(IntegerType::get(ctx, 32))
                                     : Type(IntegerType::get(ctx, 1));
      args.push_back({type, b.bytes / (b.dtype == "i1" ? 1 : 4)});
      t.buffers.push_back(id);
      t.trafficBytes += b.bytes;
    }
    t.outputs.insert(t.outputs.end(), p.outputs.begin(), p.outputs.end());
    t.sameIndexInputs.insert(t.sameIndexInputs.end(), p.sameIndex.begin(), p.sameIndex.end());
    t.flops += p.flops;
  }
  FailureOr<std::string> name = failure();
  if (plans.size() == 1) {
    name = emitFusionKernel(plans.front().op, emitter, args, t.rows);
  } else {
    SmallVector<FusionOp> ops;
    for (const FusionPlan &p : plans)
      ops.push_back(p.op);
    name = emitMultiTensorKernel(ops, argOffsets, emitter, args, t.rows);
  }
  if (failed(name))
    return failure();
  auto known = std::find_if(model.kernels.begin(), model.kernels.end(),
                            [&](const Kernel &k) { return k.name == *name; });
  t.kernel = known - model.kernels.begin();
  if (known == model.kernels.end())
    model.kernels.push_back({*name, kernelKind(plans)});
  program.thunks.push_back(std::move(t));
  return success();
}

/// The start of a bucket's all-reduce where the op stands: its operands
/// packed into a bucket buffer. The wait comes later (placeAllReduceWaits).
void Planner::startAllReduce(AllReduceOp op, ArrayRef<int64_t> operands,
                             llvm::DenseMap<Value, int64_t> &bufferOf, Program &program) {
  std::string name = "bucket " + std::to_string(op.getBucket());
  auto flat = RankedTensorType::get({static_cast<int64_t>(op.getBytes() / 4)}, Float32Type::get(op.getContext()));
  int64_t bucket = newBuffer(name, "bucket", flat, Region::Arena);
  Thunk start{Thunk::AllReduceStart}, wait{Thunk::AllReduceWait};
  start.ops = wait.ops = {label(op)};
  start.bucket = wait.bucket = op.getBucket();
  start.buffers = {bucket};
  start.buffers.insert(start.buffers.end(), operands.begin(), operands.end());
  start.outputs = {bucket};
  wait.buffers = {bucket};
  for (Value r : op.getResults()) {
    int64_t id = newBuffer(name, "temp", r.getType(), Region::Arena);
    bufferOf[r] = id;
    wait.buffers.push_back(id);
    wait.outputs.push_back(id);
  }
  start.trafficBytes = wait.trafficBytes = 2 * op.getBytes();
  pendingWaits.push_back({wait, program.thunks.size()});
  program.thunks.push_back(std::move(start));
}

/// Each bucket's wait goes right before the first thunk that reads one of
/// its results (else at the end, for the sinks), so that the thunks between
/// run while the bucket is in flight.
void Planner::placeAllReduceWaits(Program &program) {
  std::vector<Thunk> thunks;
  std::vector<bool> placed(pendingWaits.size(), false);
  for (size_t i = 0; i < program.thunks.size(); ++i) {
    for (size_t w = 0; w < pendingWaits.size(); ++w) {
      auto &[wait, startIndex] = pendingWaits[w];
      bool reads = llvm::any_of(wait.outputs, [&](int64_t id) {
        return llvm::is_contained(program.thunks[i].buffers, id);
      });
      if (!placed[w] && startIndex < i && reads) {
        thunks.push_back(wait);
        placed[w] = true;
      }
    }
    thunks.push_back(std::move(program.thunks[i]));
  }
  for (size_t w = 0; w < pendingWaits.size(); ++w)
    if (!placed[w])
      thunks.push_back(pendingWaits[w].first);
  program.thunks = std::move(thunks);
  pendingWaits.clear();
}

/// The last all-reduce bucket `op` depends on (-1: none).
int64_t lastBucketRead(Operation *op, llvm::DenseMap<Operation *, int64_t> &memo) {
  if (auto r = dyn_cast<AllReduceOp>(op))
    return r.getBucket();
  auto [it, inserted] = memo.try_emplace(op, -1);
  if (!inserted)
    return it->second;
  int64_t last = -1;
  for (Value v : op->getOperands())
    if (Operation *def = v.getDefiningOp())
      last = std::max(last, lastBucketRead(def, memo));
  return memo[op] = last;
}

/// A region of elementwise ops whose results only persist (parameter and
/// state updates, outputs): the optimizer's and the EMA's updates. These
/// run together at the end of the step as multi-tensor kernels.
bool isUpdateRegion(FusionOp f) {
  bool elementwise = true;
  f.getBody().walk([&](Operation *op) {
    elementwise &= isElementwiseMap(op) || isa<ConstantOp, YieldOp, BroadcastOp>(op);
  });
  return elementwise && llvm::all_of(f->getUsers(), [](Operation *u) {
           return isa<UpdateParamOp, UpdateStateOp, OutputOp>(u);
         });
}

LogicalResult Planner::plan(func::FuncOp fn, const std::string &entry) {
  Program program;
  program.entry = entry;
  size_t firstBuffer = model.buffers.size();
  llvm::DenseMap<Value, int64_t> bufferOf;
  std::vector<std::pair<int64_t, int64_t>> updates; // (slot, value)
  SmallVector<FusionPlan> deferred;                   // update regions
  for (Operation &op : fn.getBody().front()) {
    auto operands = [&] {
      SmallVector<int64_t> ids;
      for (Value v : op.getOperands())
        ids.push_back(bufferOf.lookup(v));
      return ids;
    };
    if (auto p = dyn_cast<ParamOp>(op)) {
      bufferOf[p] = persistent(p.getName().str(), "param", p.getType());
    } else if (auto s = dyn_cast<StateOp>(op)) {
      bufferOf[s] = persistent(s.getName().str(), "state", s.getType());
    } else if (auto i = dyn_cast<InputOp>(op)) {
      bufferOf[i] = persistent(entry + ":" + i.getName().str(), "input", i.getType());
    } else if (auto s = dyn_cast<ScheduleOp>(op)) {
      bufferOf[s] = persistent("schedule:" + s.getName().str(), "schedule", s.getType());
    } else if (auto c = dyn_cast<ConstantOp>(op)) {
      int64_t id = newBuffer(label(&op), "constant", c.getType(), Region::Persistent);
      auto attr = cast<DenseElementsAttr>(c.getValue());
      std::vector<uint8_t> bytes(model.buffers[id].bytes);
      int64_t n = model.buffers[id].bytes / (model.buffers[id].dtype == "i1" ? 1 : 4);
      for (int64_t i = 0; i < n; ++i) {
        if (attr.getElementType().isF32()) {
          float v = attr.isSplat() ? attr.getSplatValue<float>() : attr.getValues<float>()[i];
          std::memcpy(&bytes[i * 4], &v, 4);
        } else if (attr.getElementType().isInteger(32)) {
          int32_t v = attr.isSplat() ? attr.getSplatValue<int32_t>() : attr.getValues<int32_t>()[i];
          std::memcpy(&bytes[i * 4], &v, 4);
        } else {
          bytes[i] = attr.isSplat() ? attr.getSplatValue<bool>() : attr.getValues<bool>()[i];
        }
      }
      constants[id] = std::move(bytes);
      bufferOf[c] = id;
    } else if (isa<ReshapeOp, StopGradientOp>(op)) {
      bufferOf[op.getResult(0)] = bufferOf.lookup(op.getOperand(0)); // a view
    } else if (auto m = dyn_cast<MatmulOp>(op)) {
      int64_t c = newBuffer(label(&op), "temp", m.getType(), Region::Arena);
      bufferOf[m] = c;
      auto ids = operands();
      program.thunks.push_back(gemm(m, ids[0], ids[1], c));
    } else if (auto l = dyn_cast<LossOp>(op)) {
      program.sinks.push_back({"loss", "loss", bufferOf.lookup(l.getValue()), shapeOf(l.getValue())});
    } else if (auto m = dyn_cast<MetricOp>(op)) {
      program.sinks.push_back(
          {"metric", m.getName().str(), bufferOf.lookup(m.getValue()), shapeOf(m.getValue())});
    } else if (auto o = dyn_cast<OutputOp>(op)) {
      program.sinks.push_back(
          {"output", o.getName().str(), bufferOf.lookup(o.getValue()), shapeOf(o.getValue())});
    } else if (auto u = dyn_cast<UpdateParamOp>(op)) {
      updates.push_back({persistentByName.at(u.getName().str()), bufferOf.lookup(u.getValue())});
    } else if (auto u = dyn_cast<UpdateStateOp>(op)) {
      updates.push_back({persistentByName.at(u.getName().str()), bufferOf.lookup(u.getValue())});
    } else if (auto f = dyn_cast<FusionOp>(op)) {
      FusionPlan plan = prepareFusion(f, operands(), bufferOf);
      if (isUpdateRegion(f))
        deferred.push_back(std::move(plan));
      else if (failed(emitFusion(plan, program)))
        return failure();
    } else if (isa<func::ReturnOp>(op)) {
      continue;
    } else if (isa<GradientOp>(op)) {
      continue; // the optimizer's input; `kiln run --grads` reads the output of the same value
    } else if (auto r = dyn_cast<AllReduceOp>(op)) {
      startAllReduce(r, operands(), bufferOf, program);
    } else if (auto r = dyn_cast<RandomUniformOp>(op)) {
      Thunk t{Thunk::Random};
      t.ops = {label(&op)};
      t.stream = r.getStream();
      t.buffers = t.outputs = {newBuffer(label(&op), "temp", r.getType(), Region::Arena)};
      t.trafficBytes = model.buffers[t.buffers[0]].bytes;
      bufferOf[r] = t.buffers[0];
      program.thunks.push_back(std::move(t));
    } else {
      return op.emitError() << "codegen takes '" << op.getName()
                            << "' only inside a kiln.fusion (kiln-single-op-regions)";
    }
  }
  // The deferred update regions, several to a kernel, bucket after bucket
  // (each waits only for its gradients' all-reduce): a region that reads
  // another's result, or another bucket's, starts the next kernel.
  llvm::DenseMap<Operation *, int64_t> bucketMemo;
  auto bucketOf = [&](const FusionPlan &p) {
    return lastBucketRead(const_cast<FusionOp &>(p.op), bucketMemo);
  };
  llvm::stable_sort(deferred, [&](const FusionPlan &a, const FusionPlan &b) {
    return bucketOf(a) < bucketOf(b);
  });
  SmallVector<FusionPlan> group;
  auto flush = [&]() -> LogicalResult {
    if (group.empty())
      return success();
    LogicalResult r = emitFusion(group, program);
    group.clear();
    return r;
  };
  for (FusionPlan &plan : deferred) {
    bool readsGroup = llvm::any_of(plan.op.getInputs(), [&](Value v) {
      return llvm::any_of(group, [&](const FusionPlan &g) { return v.getDefiningOp() == g.op; });
    });
    bool otherBucket = !group.empty() && bucketOf(group.front()) != bucketOf(plan);
    if ((readsGroup || otherBucket) && failed(flush()))
      return failure();
    group.push_back(std::move(plan));
  }
  if (failed(flush()))
    return failure();
  placeAllReduceWaits(program);
  copyUpdatedSinks(program, updates);
  writeUpdatesInPlace(program, updates);
  for (auto [slot, value] : updates) {
    program.thunks.push_back(copyThunk(value, slot, "update " + model.buffers[slot].name));
  }
  placeArena(program, firstBuffer);
  model.programs.push_back(std::move(program));
  return success();
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
/// without it) by the last thunk to read the slot writes into the slot
/// directly; `updates` keeps the ones that still need a copy.
void Planner::writeUpdatesInPlace(Program &program,
                                  std::vector<std::pair<int64_t, int64_t>> &updates) {
  std::vector<std::pair<int64_t, int64_t>> remaining;
  for (auto [slot, value] : updates) {
    const Buffer &v = model.buffers[value];
    auto producer = std::find_if(program.thunks.begin(), program.thunks.end(),
                                 [&](const Thunk &t) { return llvm::is_contained(t.outputs, value); });
    bool ok = v.region == Region::Arena && v.shape == model.buffers[slot].shape &&
              producer != program.thunks.end() && producer->kind == Thunk::Kernel &&
              std::count_if(program.thunks.begin(), program.thunks.end(),
                            [&](const Thunk &t) { return llvm::is_contained(t.outputs, value); }) == 1;
    if (ok) {
      bool readsSlot = llvm::is_contained(producer->buffers, slot);
      ok = !readsSlot || llvm::is_contained(producer->sameIndexInputs, slot);
      for (auto t = producer + 1; ok && t != program.thunks.end(); ++t)
        ok = !llvm::is_contained(t->buffers, slot);
      for (auto [otherSlot, otherValue] : updates)
        ok = ok && (otherSlot == slot || otherValue != slot);
    }
    if (!ok) {
      remaining.push_back({slot, value});
      continue;
    }
    auto rename = [&](int64_t &id) {
      if (id == value)
        id = slot;
    };
    for (Thunk &t : program.thunks) {
      for (int64_t &id : t.buffers)
        rename(id);
      for (int64_t &id : t.outputs)
        rename(id);
      rename(t.a.buffer);
      rename(t.b.buffer);
      rename(t.c.buffer);
    }
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
    for (int64_t id : t.buffers) {
      if (first[id] < 0)
        first[id] = i;
      last[id] = i;
    }
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

} // namespace

LogicalResult planModel(ModuleOp module, KernelEmitter &emitter, CompiledModel &model,
                        ConstantData &constants) {
  Planner planner(emitter, model, constants);
  for (func::FuncOp fn : module.getOps<func::FuncOp>()) {
    std::string entry = fn.getName() == "objective" ? "train_step" : fn.getName().str();
    if (failed(planner.plan(fn, entry)))
      return failure();
  }
  return success();
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
       << b.offset << "  " << b.bytes << "  " << b.dtype << "  [";
    for (auto [i, d] : llvm::enumerate(b.shape))
      os << (i ? "x" : "") << d;
    os << "]  " << b.kind << "  " << b.name << "\n";
  }
  return s;
}

} // namespace kiln
