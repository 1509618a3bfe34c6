//===- StepPlanner.cpp - the step's thunks, op by op ---------------------===//
#include "compiler/Codegen/Planner.h"

#include "Kiln/IR/KilnDTypes.h"
#include "compiler/Codegen/FusionKernel.h"
#include "compiler/Transforms/FusionRegion.h"

#include "llvm/ADT/DenseSet.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/raw_ostream.h"

#include <algorithm>
#include <cstring>

using namespace mlir;

namespace kiln {

static SmallVector<int64_t> batchStrides(ArrayRef<int64_t> shape, ArrayRef<int64_t> batch) {
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
  auto sa = dimsOf(op.getLhs()), sb = dimsOf(op.getRhs()), sc = dimsOf(op.getResult());
  GemmCall g;
  g.m = sc[sc.size() - 2];
  g.n = sc.back();
  g.k = op.getTransposeLhs() ? sa[sa.size() - 2] : sa.back();
  g.batch.assign(sc.begin(), sc.end() - 2);
  g.a = {a, 0, sa.back(), op.getTransposeLhs(), {}};
  g.b = {b, 0, sb.back(), op.getTransposeRhs(), {}};
  g.c = {c, 0, g.n, false, {}};
  auto ab = batchStrides(sa, g.batch), bb = batchStrides(sb, g.batch);
  g.a.batchStrides.assign(ab.begin(), ab.end());
  g.b.batchStrides.assign(bb.begin(), bb.end());
  auto cb = rowMajorStrides(sc);
  g.c.batchStrides.assign(cb.begin(), cb.end() - 2);
  // A weight against batched rows: one GEMM with the batch folded into M.
  bool weight = llvm::all_of(bb, [](int64_t s) { return s == 0; });
  bool fullA = sa.size() == sc.size() &&
               std::equal(sa.begin(), sa.end() - 2, sc.begin());
  if (!g.batch.empty() && weight && fullA && !op.getTransposeLhs()) {
    for (int64_t d : g.batch)
      g.m *= d;
    g.batch.clear();
    g.a.batchStrides.clear();
    g.b.batchStrides.clear();
    g.c.batchStrides.clear();
  }
  int64_t flops = 2 * g.m * g.n * g.k * g.batches();
  int64_t traffic = model.buffers[a].bytes + model.buffers[b].bytes + model.buffers[c].bytes;
  return Thunk{std::move(g), {thunkLabel(op)}, flops, traffic};
}

/// A convolution op's pass: its operands and result are the forward's
/// input, weight and result in the order the pass names them.
Thunk Planner::convolution(Operation *op, ArrayRef<int64_t> operands, int64_t out) {
  ConvCall call;
  if (auto c = dyn_cast<Conv2dOp>(op)) {
    call.geometry = c.getGeometry();
    call.input = operands[0], call.weight = operands[1], call.result = out;
  } else if (auto c = dyn_cast<Conv2dInputGradOp>(op)) {
    call.pass = ConvCall::InputGrad;
    call.geometry = c.getGeometry();
    call.result = operands[0], call.weight = operands[1], call.input = out;
  } else {
    auto w = cast<Conv2dWeightGradOp>(op);
    call.pass = ConvCall::WeightGrad;
    call.geometry = w.getGeometry();
    call.input = operands[0], call.result = operands[1], call.weight = out;
  }
  int64_t traffic = 0;
  for (int64_t id : {call.input, call.weight, call.result})
    traffic += model.buffers[id].bytes;
  return Thunk{call, {thunkLabel(op)}, call.geometry.flops(), traffic};
}

/// A region of elementwise ops only (and the constants and broadcasts they
/// read): every value at an index depends on its inputs at that index.
static bool isElementwiseRegion(FusionOp f) {
  bool elementwise = true;
  f.getBody().walk([&](Operation *op) {
    elementwise &= isElementwiseMap(op) || isa<ConstantOp, YieldOp, BroadcastOp>(op);
  });
  return elementwise;
}

/// Output `i` of region `f`: "fusion_3_softmax_64x10#0 (student.head.p)",
/// the region's name and output number, and the node computing it.
static std::string outputBufferName(FusionOp f, unsigned i) {
  Value yielded = f.getBody().front().getTerminator()->getOperand(i);
  Operation *op = yielded.getDefiningOp();
  return regionName(f) + "#" + std::to_string(i) + " (" + thunkLabel(op ? op : f) + ")";
}

FusionPlan Planner::prepareFusion(FusionOp f, ArrayRef<int64_t> inputs,
                                  llvm::DenseMap<Value, int64_t> &bufferOf) {
  FusionPlan plan{f, SmallVector<int64_t>(inputs.begin(), inputs.end()), {}, {}, 0};
  int64_t rows = f->getAttrOfType<IntegerAttr>("rows").getInt();
  int64_t ops = 0;
  f.getBody().walk([&](Operation *) { ++ops; });
  bool elementwise = isElementwiseRegion(f);
  for (auto [i, r] : llvm::enumerate(f.getResults())) {
    int64_t id = newBuffer(outputBufferName(f, i), "temp", r.getType(), Region::Arena);
    bufferOf[r] = id;
    plan.outputs.push_back(id);
    plan.flops += ops * cast<RankedTensorType>(r.getType()).getNumElements();
    // In a region of elementwise ops an input of the result's shape is read
    // only at the element being written, before it is: the result may take
    // its place. (A transpose or a reduction reads other elements.)
    for (auto [in, v] : llvm::zip(inputs, f.getInputs()))
      if (v.getType() == r.getType() && rows > 1 && elementwise)
        plan.sameIndex.push_back(in);
  }
  return plan;
}

/// A lone concat whose operands are whole blocks of its result (nothing
/// before its axis but ones), or a lone unit-stride slice that is one block
/// of its operand, as byte copies: a kernel would run along an inner axis
/// and read each block across its rows.
bool Planner::blockCopies(FusionOp f, ArrayRef<int64_t> inputs,
                          llvm::DenseMap<Value, int64_t> &bufferOf, Program &program) {
  Operation *op = soleOp(f);
  if (!isa_and_nonnull<ConcatOp, SliceOp>(op) ||
      !llvm::all_of(op->getOperands(), [](Value v) { return isa<BlockArgument>(v); }))
    return false;
  std::vector<int64_t> out = dimsOf(op->getResult(0));
  auto inputOf = [&](unsigned i) { return inputs[cast<BlockArgument>(op->getOperand(i)).getArgNumber()]; };
  std::vector<CopyBytes> copies;
  if (auto c = dyn_cast<ConcatOp>(op)) {
    if (llvm::any_of(ArrayRef<int64_t>(out).take_front(c.getAxis()), [](int64_t d) { return d != 1; }))
      return false;
    int64_t at = 0;
    for (unsigned i = 0; i < op->getNumOperands(); ++i) {
      int64_t bytes = model.buffers[inputOf(i)].bytes;
      copies.push_back({inputOf(i), -1, bytes, 0, at});
      at += bytes;
    }
  } else {
    auto s = cast<SliceOp>(op);
    std::vector<int64_t> in = dimsOf(op->getOperand(0));
    // Ones, then one partial dim, then whole dims.
    size_t k = 0;
    while (k < out.size() && out[k] == 1)
      ++k;
    for (size_t d = 0; d < out.size(); ++d)
      if (s.getStrides()[d] != 1 || (d > k && out[d] != in[d]))
        return false;
    int64_t element = elementBytes(model.buffers[inputOf(0)].dtype), offset = 0;
    SmallVector<int64_t> strides = rowMajorStrides(in);
    for (size_t d = 0; d < in.size(); ++d)
      offset += s.getStarts()[d] * strides[d];
    int64_t bytes = element;
    for (int64_t d : out)
      bytes *= d;
    copies.push_back({inputOf(0), -1, bytes, offset * element, 0});
  }
  int64_t result = newBuffer(outputBufferName(f, 0), "temp", op->getResult(0).getType(), Region::Arena);
  bufferOf[f.getResult(0)] = result;
  for (CopyBytes &c : copies) {
    c.to = result;
    program.thunks.push_back(Thunk{c, {thunkLabel(f)}, 0, 2 * c.bytes, regionName(f)});
  }
  return true;
}

/// What a kernel computes, for listings: the op of a single-op region, a
/// fusion, or several as one multi-tensor kernel.
static std::string kernelKind(ArrayRef<FusionOp> regions) {
  if (regions.size() > 1)
    return "kiln.fusion (multi-tensor)";
  Operation *sole = soleOp(regions.front());
  return sole ? sole->getName().getStringRef().str() : "kiln.fusion";
}

/// The nodes of the ops in `region`, in order (NameLocs, KilnLocations.h).
static SmallVector<std::string> memberNodes(FusionOp region) {
  SmallVector<std::string> nodes;
  region.getBody().walk([&](Operation *op) {
    if (NameLoc name = nodeName(op->getLoc()))
      nodes.push_back(name.getName().str());
  });
  return nodes;
}

void Planner::kernelThunk(ArrayRef<FusionPlan> plans, Program &program) {
  KernelLaunch launch;
  Thunk t{KernelLaunch{}};
  StepPlan::PendingKernel pending;
  for (const FusionPlan &p : plans) {
    FusionOp region = p.op;
    // The region's node, then every other node it computes: which thunk
    // runs a node is a search of the thunks' ops (kiln inspect --node).
    SmallVector<std::string> nodes = memberNodes(region);
    nodes.insert(nodes.begin(), thunkLabel(region));
    for (const std::string &node : nodes)
      if (!llvm::is_contained(t.ops, node))
        t.ops.push_back(node);
    pending.regions.push_back(region);
    pending.argOffsets.push_back(launch.args.size());
    for (int64_t id : p.inputs)
      launch.args.push_back({id, Access::Read});
    for (int64_t id : p.outputs)
      launch.args.push_back({id, Access::Write});
    for (int64_t id : llvm::concat<const int64_t>(p.inputs, p.outputs))
      t.trafficBytes += model.buffers[id].bytes;
    llvm::append_range(launch.sameIndexInputs, p.sameIndex);
    t.flops += p.flops;
    launch.rows += region->getAttrOfType<IntegerAttr>("rows").getInt(); // end to end
  }
  launch.kernel = plan.pending.size();
  t.payload = std::move(launch);
  t.name = kernelThunkName(pending.regions);
  plan.pending.push_back(std::move(pending));
  program.thunks.push_back(std::move(t));
}

/// A region of elementwise ops whose results only persist (parameter and
/// state updates, outputs, a sharded update's chunks to gather): the
/// optimizer's and the EMA's updates. These
/// run together at the end of the step as multi-tensor kernels.
static bool isUpdateRegion(FusionOp f) {
  return isElementwiseRegion(f) && llvm::all_of(f->getUsers(), [](Operation *u) {
           return isa<UpdateParamOp, UpdateStateOp, OutputOp, AllGatherOp>(u);
         });
}

LogicalResult Planner::selectThunks(func::FuncOp fn, const std::string &entry) {
  Program program;
  program.entry = entry;
  size_t firstBuffer = model.buffers.size();
  llvm::DenseMap<Value, int64_t> bufferOf;
  std::vector<std::pair<int64_t, int64_t>> updates; // (slot, value)
  SmallVector<FusionPlan> deferred;                   // update regions
  llvm::DenseSet<Operation *> deferredOps;            // their ops
  std::vector<std::pair<AllGatherOp, Collective>> gathers; // after them
  for (Operation &op : fn.getBody().front()) {
    if (!isa<FusionOp, UpdateParamOp, UpdateStateOp, OutputOp, LossOp, MetricOp, AllGatherOp>(op) &&
        llvm::any_of(op.getOperands(),
                     [&](Value v) { return deferredOps.contains(v.getDefiningOp()); }))
      return op.emitError("codegen: '") << op.getName()
                                         << "' reads an update region, which runs at the step's end";
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
      if (std::optional<uint64_t> shards = s.getShards()) {
        Buffer &b = model.buffers[bufferOf[s]];
        b.shards = *shards;
        SmallVector<int64_t> whole = s.wholeShape();
        b.wholeShape.assign(whole.begin(), whole.end());
      }
    } else if (auto i = dyn_cast<InputOp>(op)) {
      bufferOf[i] = persistent(entry + ":" + i.getName().str(), "input", i.getType());
    } else if (auto s = dyn_cast<ScheduleOp>(op)) {
      bufferOf[s] = persistent("schedule:" + s.getName().str(), "schedule", s.getType());
    } else if (auto c = dyn_cast<ConstantOp>(op)) {
      int64_t id = newBuffer(thunkLabel(&op), "constant", c.getType(), Region::Persistent);
      auto attr = cast<DenseElementsAttr>(c.getValue());
      std::vector<uint8_t> bytes(model.buffers[id].bytes);
      int64_t n = model.buffers[id].bytes / elementBytes(model.buffers[id].dtype);
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
      int64_t c = newBuffer(thunkLabel(&op), "temp", m.getType(), Region::Arena);
      bufferOf[m] = c;
      auto ids = operands();
      program.thunks.push_back(gemm(m, ids[0], ids[1], c));
    } else if (isa<Conv2dOp, Conv2dInputGradOp, Conv2dWeightGradOp>(op)) {
      int64_t out = newBuffer(thunkLabel(&op), "temp", op.getResult(0).getType(), Region::Arena);
      bufferOf[op.getResult(0)] = out;
      program.thunks.push_back(convolution(&op, operands(), out));
    } else if (auto l = dyn_cast<LossOp>(op)) {
      program.sinks.push_back({"loss", "loss", bufferOf.lookup(l.getValue()), dimsOf(l.getValue())});
    } else if (auto m = dyn_cast<MetricOp>(op)) {
      program.sinks.push_back(
          {"metric", m.getName().str(), bufferOf.lookup(m.getValue()), dimsOf(m.getValue())});
    } else if (auto o = dyn_cast<OutputOp>(op)) {
      program.sinks.push_back(
          {"output", o.getName().str(), bufferOf.lookup(o.getValue()), dimsOf(o.getValue())});
    } else if (auto u = dyn_cast<UpdateParamOp>(op)) {
      updates.push_back({persistentByName.at(u.getName().str()), bufferOf.lookup(u.getValue())});
    } else if (auto u = dyn_cast<UpdateStateOp>(op)) {
      updates.push_back({persistentByName.at(u.getName().str()), bufferOf.lookup(u.getValue())});
    } else if (auto f = dyn_cast<FusionOp>(op)) {
      if (blockCopies(f, operands(), bufferOf, program))
        continue;
      FusionPlan region = prepareFusion(f, operands(), bufferOf);
      // Updates, and what reads a sharded update's all-gather (which starts
      // among them) or another deferred region, run at the step's end.
      if (isUpdateRegion(f) || llvm::any_of(f.getInputs(), [&](Value v) {
            return v.getDefiningOp<AllGatherOp>() || deferredOps.contains(v.getDefiningOp());
          })) {
        deferredOps.insert(f);
        deferred.push_back(std::move(region));
        continue;
      }
      kernelThunk(region, program);
    } else if (isa<func::ReturnOp>(op)) {
      continue;
    } else if (isa<GradientOp>(op)) {
      continue; // the optimizer's input; `kiln run --grads` reads the output of the same value
    } else if (isa<AllReduceOp, ReduceScatterOp>(op)) {
      startCollective(collective(&op, operands(), bufferOf), program);
    } else if (auto g = dyn_cast<AllGatherOp>(op)) {
      gathers.push_back({g, collective(&op, operands(), bufferOf)});
    } else if (auto s = dyn_cast<ShardOp>(op)) {
      int64_t id = newBuffer(thunkLabel(&op), "temp", s.getType(), Region::Arena);
      bufferOf[s] = id;
      int64_t from = bufferOf.lookup(s.getInput());
      program.thunks.push_back(Thunk{ShardSlice{from, id, int64_t(s.getRanks())}, {thunkLabel(&op)},
                                     0, 2 * model.buffers[id].bytes});
    } else if (auto r = dyn_cast<RandomUniformOp>(op)) {
      int64_t id = newBuffer(thunkLabel(&op), "temp", r.getType(), Region::Arena);
      bufferOf[r] = id;
      program.thunks.push_back(Thunk{RandomFill{id, (int64_t)r.getStream()}, {thunkLabel(&op)}, 0,
                                     model.buffers[id].bytes});
    } else {
      return op.emitError() << "codegen takes '" << op.getName()
                            << "' only inside a kiln.fusion (kiln-single-op-regions)";
    }
  }
  updateKernelThunks(deferred, gathers, program);
  placeCollectiveWaits(program); // by the starts' places: before moving thunks
  sinkShardSlices(program);
  plan.updates.push_back(std::move(updates));
  plan.firstBuffer.push_back(firstBuffer);
  model.programs.push_back(std::move(program));
  return success();
}

LogicalResult selectThunks(ModuleOp module, StepPlan &plan) {
  Planner planner(plan);
  for (func::FuncOp fn : module.getOps<func::FuncOp>()) {
    std::string entry = fn.getName() == "objective" ? "train_step" : fn.getName().str();
    if (failed(planner.selectThunks(fn, entry)))
      return failure();
  }
  return success();
}

LogicalResult emitKernels(StepPlan &plan, KernelEmitter &emitter) {
  CompiledModel &model = plan.model;
  for (Program &program : model.programs)
    for (Thunk &t : program.thunks) {
      KernelLaunch *launch = t.as<KernelLaunch>();
      if (!launch)
        continue;
      const StepPlan::PendingKernel &k = plan.pending[launch->kernel];
      MLIRContext *ctx = k.regions.front()->getContext();
      SmallVector<KernelArg> args;
      for (auto [id, access] : launch->args) {
        const Buffer &b = model.buffers[id];
        args.push_back({mlirElementType(b.dtype, ctx), b.bytes / elementBytes(b.dtype)});
      }
      int64_t rows;
      FailureOr<std::string> name =
          k.regions.size() == 1
              ? emitFusionKernel(k.regions.front(), emitter, args, rows)
              : emitMultiTensorKernel(k.regions, k.argOffsets, emitter, args, rows);
      if (failed(name))
        return failure();
      auto known = std::find_if(model.kernels.begin(), model.kernels.end(),
                                [&](const Kernel &kernel) { return kernel.name == *name; });
      launch->kernel = known - model.kernels.begin();
      if (known == model.kernels.end())
        model.kernels.push_back({*name, kernelKind(k.regions), {}, emitter.workspaceBytes(*name)});
    }
  plan.pending.clear();
  return success();
}

std::string describeThunks(const CompiledModel &model) {
  std::string s;
  llvm::raw_string_ostream os(s);
  for (const Program &p : model.programs) {
    os << p.entry << ": " << p.thunks.size() << " thunks\n";
    for (auto [i, t] : llvm::enumerate(p.thunks)) {
      os << "  " << i << "  " << t.kindName() << "  ";
      if (!t.name.empty())
        os << t.name << "  ";
      if (auto *k = t.as<KernelLaunch>())
        os << "rows " << k->rows << "  ";
      if (auto *g = t.as<GemmCall>())
        os << g->m << "x" << g->n << "x" << g->k << "  ";
      if (auto *c = t.as<CopyBytes>())
        os << c->bytes << " bytes from +" << c->fromOffset << " to +" << c->toOffset << "  ";
      for (Access access : {Access::Read, Access::Write}) {
        os << (access == Access::Read ? "reads" : "  writes");
        t.eachUse([&](int64_t id, Access a) {
          if (a == access)
            os << " " << id;
        });
      }
      os << "  " << llvm::join(t.ops, ", ") << "\n";
    }
  }
  return s;
}

} // namespace kiln
