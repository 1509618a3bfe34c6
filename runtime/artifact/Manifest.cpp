//===- Manifest.cpp - the artifact's manifest.json ------------------------===//
#include "runtime/artifact/Manifest.h"
#include "runtime/artifact/DurableFile.h"

#include "runtime/artifact/Crc32.h"
#include "runtime/artifact/ShardLayout.h"

#include <algorithm>
#include <fstream>
#include <set>
#include <sstream>

using json = nlohmann::ordered_json;

namespace kiln {
namespace {

json operandToJson(const GemmOperand &o) {
  return {{"buffer", o.buffer}, {"offset", o.offset}, {"ld", o.ld},
          {"transpose", o.transpose}, {"batch_strides", o.batchStrides}};
}

const char *accessName(Access a) { return a == Access::Read ? "read" : "write"; }

/// A thunk's payload, field by field under its kind's name.
json payloadToJson(const KernelLaunch &k) {
  json args = json::array();
  for (auto [buffer, access] : k.args)
    args.push_back({{"buffer", buffer}, {"access", accessName(access)}});
  return {{"kernel", k.kernel}, {"rows", k.rows}, {"args", args}};
}
json payloadToJson(const GemmCall &g) {
  return {{"m", g.m}, {"n", g.n}, {"k", g.k}, {"batch", g.batch},
          {"a", operandToJson(g.a)}, {"b", operandToJson(g.b)}, {"c", operandToJson(g.c)}};
}
const char *const kConvPasses[] = {"forward", "input_grad", "weight_grad"};
json payloadToJson(const ConvCall &c) {
  const ConvGeometry &g = c.geometry;
  return {{"pass", kConvPasses[c.pass]},
          {"input", c.input}, {"weight", c.weight}, {"result", c.result},
          {"input_shape", {g.n, g.c, g.h, g.w}}, {"weight_shape", {g.o, g.c / g.groups, g.kh, g.kw}},
          {"result_shape", {g.n, g.o, g.ho, g.wo}}, {"strides", g.stride},
          {"padding", g.pad}, {"dilation", g.dilation}, {"groups", g.groups}};
}
json payloadToJson(const CopyBytes &c) {
  return {{"from", c.from}, {"to", c.to}, {"bytes", c.bytes}, {"from_offset", c.fromOffset},
          {"to_offset", c.toOffset}};
}
json payloadToJson(const RandomFill &r) { return {{"buffer", r.buffer}, {"stream", r.stream}}; }
json payloadToJson(const ShardSlice &s) {
  return {{"from", s.from}, {"to", s.to}, {"ranks", s.ranks}};
}
json payloadToJson(const BucketTransfer &t) {
  return {{"bucket", t.bucket}, {"bucket_buffer", t.bucketBuffer}, {"tensors", t.tensors},
          {"ranks", t.ranks}};
}

/// A collective thunk of kind `Kind` with the fields read.
template <class Kind> Thunk::Payload collective(const BucketTransfer &bt) {
  Kind k;
  static_cast<BucketTransfer &>(k) = bt;
  return k;
}

json thunkToJson(const Thunk &t) {
  json j = {{"kind", t.kindName()}, {"ops", t.ops}};
  if (!t.name.empty())
    j["name"] = t.name;
  j.update(std::visit([](const auto &p) { return payloadToJson(p); }, t.payload));
  j["flops"] = t.flops;
  j["traffic_bytes"] = t.trafficBytes;
  return j;
}

/// Reads JSON with a path for messages; the first problem wins.
struct Reader {
  std::string error;

  bool fail(const std::string &path, const std::string &what) {
    if (error.empty())
      error = "manifest " + path + ": " + what;
    return false;
  }
  const json *get(const json &obj, const std::string &path, const char *key) {
    if (!obj.is_object() || !obj.contains(key)) {
      fail(path, std::string("missing '") + key + "'");
      return nullptr;
    }
    return &obj[key];
  }
  bool integer(const json &obj, const std::string &path, const char *key, int64_t &out,
               int64_t min = 0) {
    const json *v = get(obj, path, key);
    if (!v)
      return false;
    if (!v->is_number_integer() || v->get<int64_t>() < min)
      return fail(path + "/" + key, "expected an integer >= " + std::to_string(min));
    out = v->get<int64_t>();
    return true;
  }
  bool string(const json &obj, const std::string &path, const char *key, std::string &out) {
    const json *v = get(obj, path, key);
    if (!v)
      return false;
    if (!v->is_string())
      return fail(path + "/" + key, "expected a string");
    out = v->get<std::string>();
    return true;
  }
  bool ints(const json &obj, const std::string &path, const char *key,
            std::vector<int64_t> &out) {
    const json *v = get(obj, path, key);
    if (!v)
      return false;
    if (!v->is_array())
      return fail(path + "/" + key, "expected a list of integers");
    out.clear();
    for (auto &e : *v) {
      if (!e.is_number_integer())
        return fail(path + "/" + key, "expected a list of integers");
      out.push_back(e.get<int64_t>());
    }
    return true;
  }
};

} // namespace

json manifestToJson(const Manifest &m) {
  json buffers = json::array(), kernels = json::array(), programs = json::array();
  for (const Buffer &b : m.compiled.buffers)
  {
    json buffer = {{"id", b.id}, {"name", b.name}, {"kind", b.kind}, {"dtype", dtypeName(b.dtype)},
                   {"shape", b.shape}, {"region", b.region == Region::Arena ? "arena" : "persistent"},
                   {"offset", b.offset}, {"bytes", b.bytes}};
    if (b.shards)
      buffer.update({{"shards", b.shards}, {"whole_shape", b.wholeShape}});
    buffers.push_back(buffer);
  }
  for (const Kernel &k : m.compiled.kernels) {
    json kernel = {{"name", k.name}, {"op", k.op}, {"workspace_bytes", k.workspaceBytes}};
    if (k.gpu.threads > 0)
      kernel["cuda"] = {{"threads", k.gpu.threads},
                        {"row_per", k.gpu.rowPerBlock ? "block" : "thread"},
                        {"workspace_bytes_per_row", k.gpu.workspaceBytesPerRow}};
    kernels.push_back(kernel);
  }
  for (const Program &p : m.compiled.programs) {
    json thunks = json::array(), sinks = json::array();
    for (const Thunk &t : p.thunks)
      thunks.push_back(thunkToJson(t));
    for (const Sink &s : p.sinks)
      sinks.push_back({{"kind", s.kind}, {"name", s.name}, {"buffer", s.buffer}, {"shape", s.shape}});
    programs.push_back({{"entry", p.entry}, {"arena_bytes", p.arenaBytes},
                        {"arena_bytes_without_recompute", p.arenaBytesWithoutRecompute},
                        {"thunks", thunks}, {"sinks", sinks}});
  }
  json inputs = json::array(), schedules = json::array(), files = json::object();
  for (const auto &i : m.inputs) {
    inputs.push_back({{"program", i.program}, {"name", i.name}, {"source", i.source},
                      {"buffer", i.buffer}});
    if (i.classes > 0)
      inputs.back()["classes"] = i.classes;
  }
  for (const auto &s : m.schedules)
    schedules.push_back({{"name", s.name}, {"spec", s.spec}, {"buffer", s.buffer}});
  for (const auto &[name, f] : m.files)
    files[name] = {{"bytes", f.bytes}, {"crc32", f.crc32}};
  return {{"format", "kiln-artifact"},
          {"version", m.version},
          {"model", m.model},
          {"source", m.source},
          {"cpu", {{"target", m.cpu}, {"features", m.cpuFeatures}}},
          {"cuda_archs", m.cudaArchs},
          {"batch_size", m.batchSize},
          {"eval_batch_size", m.evalBatchSize},
          {"persistent_bytes", m.compiled.persistentBytes},
          {"buffers", buffers},
          {"kernels", kernels},
          {"programs", programs},
          {"inputs", inputs},
          {"schedules", schedules},
          {"data", m.data},
          {"train", m.train},
          {"optimizer", m.optimizer},
          {"networks", m.networks},
          {"training_key", m.trainingKey},
          {"files", files}};
}

bool manifestFromJson(const json &body, Manifest &m, std::string &error) {
  Reader r;
  auto done = [&](bool ok) {
    error = r.error;
    return ok && r.error.empty();
  };
  std::string format;
  int64_t version;
  if (!r.string(body, "", "format", format) || !r.integer(body, "", "version", version))
    return done(false);
  if (format != "kiln-artifact")
    return done(r.fail("/format", "not a kiln artifact (\"" + format + "\")"));
  if (version != kArtifactVersion)
    return done(r.fail("/version", "format version " + std::to_string(version) +
                                       ", this runtime reads version " +
                                       std::to_string(kArtifactVersion) + "; recompile the model"));
  m.version = version;
  const json *cpu = r.get(body, "", "cpu");
  if (!r.string(body, "", "model", m.model) || !r.string(body, "", "source", m.source) || !cpu ||
      !r.string(*cpu, "/cpu", "target", m.cpu) || !r.string(*cpu, "/cpu", "features", m.cpuFeatures) ||
      !r.integer(body, "", "batch_size", m.batchSize, 1) ||
      !r.integer(body, "", "eval_batch_size", m.evalBatchSize) ||
      !r.integer(body, "", "persistent_bytes", m.compiled.persistentBytes))
    return done(false);
  const json *archs = r.get(body, "", "cuda_archs");
  if (!archs || !archs->is_array())
    return done(r.fail("/cuda_archs", "expected a list"));
  for (const json &a : *archs) {
    if (!a.is_string() || a.get<std::string>().rfind("sm_", 0) != 0)
      return done(r.fail("/cuda_archs", "expected names like \"sm_80\""));
    m.cudaArchs.push_back(a.get<std::string>());
  }

  CompiledModel &c = m.compiled;
  const json *buffers = r.get(body, "", "buffers");
  if (!buffers || !buffers->is_array())
    return done(r.fail("/buffers", "expected a list"));
  for (size_t i = 0; i < buffers->size(); ++i) {
    const json &b = (*buffers)[i];
    std::string p = "/buffers/" + std::to_string(i), region;
    Buffer out;
    std::string dtype;
    if (!r.integer(b, p, "id", out.id) || !r.string(b, p, "name", out.name) ||
        !r.string(b, p, "kind", out.kind) || !r.string(b, p, "dtype", dtype) ||
        !r.ints(b, p, "shape", out.shape) || !r.string(b, p, "region", region) ||
        !r.integer(b, p, "offset", out.offset) || !r.integer(b, p, "bytes", out.bytes, 1))
      return done(false);
    if (out.id != (int64_t)i)
      return done(r.fail(p + "/id", "buffer ids must count from 0"));
    std::optional<DType> known = dtypeNamed(dtype);
    if (!known)
      return done(r.fail(p + "/dtype", "unknown dtype " + dtype));
    if (*known == DType::I64)
      return done(r.fail(p + "/dtype", "dtype " + dtype + " is not one this runtime runs yet"));
    out.dtype = *known;
    if (b.contains("shards")) {
      if (!r.integer(b, p, "shards", out.shards, 1) || !r.ints(b, p, "whole_shape", out.wholeShape))
        return done(false);
      if (out.kind != "state" || region != "persistent")
        return done(r.fail(p, "only persistent state is sharded"));
      int64_t whole = 1;
      for (int64_t d : out.wholeShape)
        whole *= d;
      int64_t chunk = ShardLayout::chunkOf(whole, out.shards);
      if (out.shape != std::vector<int64_t>{chunk} || out.bytes != chunk * elementBytes(out.dtype))
        return done(r.fail(p, "a shard of " + std::to_string(whole) + " elements over " +
                                  std::to_string(out.shards) + " ranks holds " +
                                  std::to_string(chunk)));
    }
    out.region = region == "arena" ? Region::Arena : Region::Persistent;
    if (out.region == Region::Persistent && out.offset + out.bytes > c.persistentBytes)
      return done(r.fail(p, "lies outside the persistent region"));
    c.buffers.push_back(out);
  }
  const json *kernels = r.get(body, "", "kernels");
  if (!kernels || !kernels->is_array())
    return done(r.fail("/kernels", "expected a list"));
  for (size_t i = 0; i < kernels->size(); ++i) {
    Kernel k;
    std::string p = "/kernels/" + std::to_string(i);
    if (!r.string((*kernels)[i], p, "name", k.name) || !r.string((*kernels)[i], p, "op", k.op) ||
        !r.integer((*kernels)[i], p, "workspace_bytes", k.workspaceBytes))
      return done(false);
    if (!m.cudaArchs.empty()) {
      const json *cuda = r.get((*kernels)[i], p, "cuda");
      std::string rowPer;
      if (!cuda || !r.integer(*cuda, p + "/cuda", "threads", k.gpu.threads, 1) ||
          !r.string(*cuda, p + "/cuda", "row_per", rowPer) ||
          !r.integer(*cuda, p + "/cuda", "workspace_bytes_per_row", k.gpu.workspaceBytesPerRow))
        return done(false);
      if (k.gpu.threads > 1024 || (rowPer != "block" && rowPer != "thread"))
        return done(r.fail(p + "/cuda", "threads must be 1..1024 and row_per block or thread"));
      k.gpu.rowPerBlock = rowPer == "block";
    }
    c.kernels.push_back(k);
  }
  auto bufferId = [&](const std::string &p, int64_t id) {
    return id >= 0 && id < (int64_t)c.buffers.size() ? true : r.fail(p, "no buffer " + std::to_string(id));
  };
  const json *programs = r.get(body, "", "programs");
  if (!programs || !programs->is_array())
    return done(r.fail("/programs", "expected a list"));
  for (size_t pi = 0; pi < programs->size(); ++pi) {
    const json &pj = (*programs)[pi];
    std::string pp = "/programs/" + std::to_string(pi);
    Program prog;
    const json *thunks = r.get(pj, pp, "thunks");
    const json *sinks = r.get(pj, pp, "sinks");
    if (!r.string(pj, pp, "entry", prog.entry) || !r.integer(pj, pp, "arena_bytes", prog.arenaBytes) ||
        !r.integer(pj, pp, "arena_bytes_without_recompute", prog.arenaBytesWithoutRecompute) ||
        !thunks || !sinks || !thunks->is_array() || !sinks->is_array())
      return done(r.fail(pp, "malformed program"));
    for (size_t ti = 0; ti < thunks->size(); ++ti) {
      const json &tj = (*thunks)[ti];
      std::string tp = pp + "/thunks/" + std::to_string(ti), kind;
      Thunk t{CopyBytes{}};
      if (!r.string(tj, tp, "kind", kind) || !r.integer(tj, tp, "flops", t.flops) ||
          !r.integer(tj, tp, "traffic_bytes", t.trafficBytes))
        return done(false);
      if (tj.contains("name") && !r.string(tj, tp, "name", t.name))
        return done(false);
      if (tj.contains("ops") && tj["ops"].is_array())
        for (auto &o : tj["ops"])
          if (o.is_string())
            t.ops.push_back(o.get<std::string>());
      if (kind == "kernel") {
        KernelLaunch k;
        const json *args = r.get(tj, tp, "args");
        if (!r.integer(tj, tp, "kernel", k.kernel) || !r.integer(tj, tp, "rows", k.rows, 1) ||
            !args || !args->is_array())
          return done(r.fail(tp, "a kernel thunk names its kernel, rows and args"));
        if (k.kernel >= (int64_t)c.kernels.size())
          return done(r.fail(tp + "/kernel", "no kernel " + std::to_string(k.kernel)));
        for (size_t ai = 0; ai < args->size(); ++ai) {
          std::string ap = tp + "/args/" + std::to_string(ai), access;
          KernelLaunch::Arg arg;
          if (!r.integer((*args)[ai], ap, "buffer", arg.buffer) ||
              !r.string((*args)[ai], ap, "access", access))
            return done(false);
          if (access != "read" && access != "write")
            return done(r.fail(ap + "/access", "expected read or write"));
          arg.access = access == "read" ? Access::Read : Access::Write;
          k.args.push_back(arg);
        }
        t.payload = std::move(k);
      } else if (kind == "gemm") {
        GemmCall g;
        if (!r.integer(tj, tp, "m", g.m, 1) || !r.integer(tj, tp, "n", g.n, 1) ||
            !r.integer(tj, tp, "k", g.k, 1) || !r.ints(tj, tp, "batch", g.batch))
          return done(false);
        for (auto [key, o] : {std::pair{"a", &g.a}, {"b", &g.b}, {"c", &g.c}}) {
          const json *oj = r.get(tj, tp, key);
          std::string op = tp + "/" + key;
          if (!oj || !r.integer(*oj, op, "buffer", o->buffer) || !bufferId(op, o->buffer) ||
              !r.integer(*oj, op, "offset", o->offset) || !r.integer(*oj, op, "ld", o->ld, 1) ||
              !r.ints(*oj, op, "batch_strides", o->batchStrides))
            return done(false);
          o->transpose = oj->value("transpose", false);
          if (o->batchStrides.size() != g.batch.size())
            return done(r.fail(op + "/batch_strides", "needs one stride per batch dimension"));
        }
        t.payload = std::move(g);
      } else if (kind == "conv") {
        ConvCall cv;
        ConvGeometry &g = cv.geometry;
        std::string pass;
        std::vector<int64_t> in, w, out, strides, pad, dilation;
        if (!r.string(tj, tp, "pass", pass) || !r.integer(tj, tp, "input", cv.input) ||
            !r.integer(tj, tp, "weight", cv.weight) || !r.integer(tj, tp, "result", cv.result) ||
            !r.ints(tj, tp, "input_shape", in) || !r.ints(tj, tp, "weight_shape", w) ||
            !r.ints(tj, tp, "result_shape", out) || !r.ints(tj, tp, "strides", strides) ||
            !r.ints(tj, tp, "padding", pad) || !r.ints(tj, tp, "dilation", dilation) ||
            !r.integer(tj, tp, "groups", g.groups, 1))
          return done(false);
        auto at = std::find(std::begin(kConvPasses), std::end(kConvPasses), pass);
        if (at == std::end(kConvPasses))
          return done(r.fail(tp + "/pass", "expected forward, input_grad or weight_grad"));
        cv.pass = ConvCall::Pass(at - std::begin(kConvPasses));
        if (in.size() != 4 || w.size() != 4 || out.size() != 4 || strides.size() != 2 ||
            pad.size() != 4 || dilation.size() != 2 || in[1] % g.groups || w[0] % g.groups ||
            w[1] * g.groups != in[1] || out[0] != in[0] || out[1] != w[0])
          return done(r.fail(tp, "a conv thunk's shapes and geometry do not fit together"));
        g.n = in[0], g.c = in[1], g.h = in[2], g.w = in[3];
        g.o = w[0], g.kh = w[2], g.kw = w[3], g.ho = out[2], g.wo = out[3];
        std::copy(strides.begin(), strides.end(), g.stride.begin());
        std::copy(pad.begin(), pad.end(), g.pad.begin());
        std::copy(dilation.begin(), dilation.end(), g.dilation.begin());
        // One float type for all three (kiln-assign-precision's rule).
        if (!bufferId(tp, cv.input))
          return done(false);
        DType dtype = c.buffers[cv.input].dtype;
        for (auto [id, elements] : {std::pair{cv.input, g.n * g.c * g.h * g.w},
                                    {cv.weight, g.o * w[1] * g.kh * g.kw},
                                    {cv.result, g.n * g.o * g.ho * g.wo}})
          if (!bufferId(tp, id) || c.buffers[id].dtype != dtype ||
              (dtype != DType::F32 && dtype != DType::BF16 && dtype != DType::F16) ||
              c.buffers[id].bytes != elementBytes(dtype) * elements)
            return done(r.fail(tp, "a conv thunk's buffers must be of one float type (f32, bf16 "
                                   "or f16) and of its shapes"));
        t.payload = cv;
      } else if (kind == "copy") {
        CopyBytes cp;
        if (!r.integer(tj, tp, "from", cp.from) || !bufferId(tp + "/from", cp.from) ||
            !r.integer(tj, tp, "to", cp.to) || !bufferId(tp + "/to", cp.to) ||
            !r.integer(tj, tp, "bytes", cp.bytes, 1) ||
            !r.integer(tj, tp, "from_offset", cp.fromOffset) ||
            !r.integer(tj, tp, "to_offset", cp.toOffset))
          return done(false);
        if (c.buffers[cp.from].bytes < cp.fromOffset + cp.bytes ||
            c.buffers[cp.to].bytes < cp.toOffset + cp.bytes)
          return done(r.fail(tp, "copies more bytes than its buffers hold"));
        t.payload = cp;
      } else if (kind == "random") {
        RandomFill rf;
        if (!r.integer(tj, tp, "buffer", rf.buffer) || !bufferId(tp + "/buffer", rf.buffer) ||
            !r.integer(tj, tp, "stream", rf.stream))
          return done(false);
        if (c.buffers[rf.buffer].dtype != DType::F32)
          return done(r.fail(tp + "/buffer", "a random thunk fills an f32 buffer"));
        t.payload = rf;
      } else if (kind == "shard") {
        ShardSlice sh;
        if (!r.integer(tj, tp, "from", sh.from) || !bufferId(tp + "/from", sh.from) ||
            !r.integer(tj, tp, "to", sh.to) || !bufferId(tp + "/to", sh.to) ||
            !r.integer(tj, tp, "ranks", sh.ranks, 1))
          return done(false);
        const Buffer &from = c.buffers[sh.from], &to = c.buffers[sh.to];
        int64_t e = elementBytes(from.dtype);
        if (to.dtype != from.dtype || to.bytes != ShardLayout::chunkOf(from.bytes / e, sh.ranks) * e)
          return done(r.fail(tp, "a shard thunk writes its input's chunk over its ranks"));
        t.payload = sh;
      } else if (std::set<std::string>{"all_reduce_start", "all_reduce_wait", "reduce_scatter_start",
                                       "reduce_scatter_wait", "all_gather_start",
                                       "all_gather_wait"}.count(kind)) {
        BucketTransfer bt;
        if (!r.integer(tj, tp, "bucket", bt.bucket) ||
            !r.integer(tj, tp, "bucket_buffer", bt.bucketBuffer) ||
            !bufferId(tp + "/bucket_buffer", bt.bucketBuffer) ||
            !r.ints(tj, tp, "tensors", bt.tensors) || !r.integer(tj, tp, "ranks", bt.ranks, 1))
          return done(false);
        // The bucket holds every tensor, end to end (all-reduce), or one
        // segment per rank of every tensor's chunk.
        bool whole = kind == "reduce_scatter_start" || kind == "all_gather_wait";
        bool sharded = kind.rfind("all_reduce", 0) != 0;
        int64_t packed = 0;
        DType dtype = c.buffers[bt.bucketBuffer].dtype;
        bool same = dtype == DType::F32 || dtype == DType::BF16;
        for (int64_t id : bt.tensors) {
          if (!bufferId(tp + "/tensors", id))
            return done(false);
          int64_t n = c.buffers[id].bytes / elementBytes(dtype);
          packed += !sharded ? n : bt.ranks * (whole ? ShardLayout::chunkOf(n, bt.ranks) : n);
          same &= c.buffers[id].dtype == dtype;
        }
        if (bt.tensors.empty() || !same || (!sharded && bt.ranks != 1) ||
            packed * elementBytes(dtype) != c.buffers[bt.bucketBuffer].bytes)
          return done(r.fail(tp, "a collective thunk packs f32 (or bf16) tensors of its "
                                 "bucket buffer's type whose sizes (or chunks' over its ranks) "
                                 "add up to its size"));
        t.payload = kind == "all_reduce_start"       ? collective<AllReduceStart>(bt)
                    : kind == "all_reduce_wait"      ? collective<AllReduceWait>(bt)
                    : kind == "reduce_scatter_start" ? collective<ReduceScatterStart>(bt)
                    : kind == "reduce_scatter_wait"  ? collective<ReduceScatterWait>(bt)
                    : kind == "all_gather_start"     ? collective<AllGatherStart>(bt)
                                                     : collective<AllGatherWait>(bt);
      } else {
        return done(r.fail(tp + "/kind", "unknown thunk kind '" + kind + "'"));
      }
      bool known = true;
      t.eachUse([&](int64_t id, Access) { known = known && bufferId(tp, id); });
      if (!known)
        return done(false);
      prog.thunks.push_back(t);
    }
    for (size_t si = 0; si < sinks->size(); ++si) {
      Sink s;
      std::string sp = pp + "/sinks/" + std::to_string(si);
      if (!r.string((*sinks)[si], sp, "kind", s.kind) || !r.string((*sinks)[si], sp, "name", s.name) ||
          !r.integer((*sinks)[si], sp, "buffer", s.buffer) || !bufferId(sp, s.buffer) ||
          !r.ints((*sinks)[si], sp, "shape", s.shape))
        return done(false);
      prog.sinks.push_back(s);
    }
    c.programs.push_back(prog);
  }
  for (const Buffer &b : c.buffers)
    if (b.region == Region::Arena && b.offset + b.bytes > c.arenaBytes())
      return done(r.fail("/buffers/" + std::to_string(b.id), "lies outside the arena"));

  const json *inputs = r.get(body, "", "inputs");
  const json *schedules = r.get(body, "", "schedules");
  const json *files = r.get(body, "", "files");
  if (!inputs || !schedules || !files || !inputs->is_array() || !schedules->is_array() ||
      !files->is_object())
    return done(r.fail("", "needs 'inputs', 'schedules' and 'files'"));
  for (size_t i = 0; i < inputs->size(); ++i) {
    Manifest::Input in;
    std::string p = "/inputs/" + std::to_string(i);
    if (!r.string((*inputs)[i], p, "program", in.program) || !r.string((*inputs)[i], p, "name", in.name) ||
        !r.string((*inputs)[i], p, "source", in.source) || !r.integer((*inputs)[i], p, "buffer", in.buffer) ||
        !bufferId(p, in.buffer))
      return done(false);
    if ((*inputs)[i].contains("classes") && !r.integer((*inputs)[i], p, "classes", in.classes, 1))
      return done(false);
    m.inputs.push_back(in);
  }
  for (size_t i = 0; i < schedules->size(); ++i) {
    Manifest::Schedule s;
    std::string p = "/schedules/" + std::to_string(i);
    const json *spec = r.get((*schedules)[i], p, "spec");
    if (!r.string((*schedules)[i], p, "name", s.name) || !spec ||
        !r.integer((*schedules)[i], p, "buffer", s.buffer) || !bufferId(p, s.buffer))
      return done(false);
    s.spec = *spec;
    m.schedules.push_back(s);
  }
  for (auto &[name, f] : files->items()) {
    ArtifactFile af;
    int64_t crc;
    if (!r.integer(f, "/files/" + name, "bytes", af.bytes) ||
        !r.integer(f, "/files/" + name, "crc32", crc))
      return done(false);
    af.crc32 = static_cast<uint32_t>(crc);
    m.files[name] = af;
  }
  m.data = body.value("data", json::object());
  m.train = body.value("train", json::object());
  if (body.contains("training_key") && !r.string(body, "", "training_key", m.trainingKey))
    return done(false);
  m.optimizer = body.value("optimizer", json::object());
  m.networks = body.value("networks", json::object());
  return done(true);
}

bool writeManifest(const std::string &path, const Manifest &m, std::string &error) {
  json body = manifestToJson(m);
  std::string text = body.dump();
  json wrapped = {{"crc32", crc32(text.data(), text.size())}, {"manifest", body}};
  return writeFileAtomically(path, {wrapped.dump(1) + "\n"}, error);
}

bool readManifest(const std::string &path, Manifest &m, std::string &error) {
  std::ifstream in(path);
  if (!in) {
    error = path + ": cannot open (is this a kiln artifact directory?)";
    return false;
  }
  std::stringstream ss;
  ss << in.rdbuf();
  json wrapped = json::parse(ss.str(), nullptr, false);
  if (wrapped.is_discarded()) {
    error = path + ": not a valid manifest (truncated or not JSON)";
    return false;
  }
  if (!wrapped.is_object() || !wrapped.contains("manifest") || !wrapped.contains("crc32") ||
      !wrapped["crc32"].is_number_integer()) {
    error = path + ": JSON, but not a kiln manifest (it has no \"crc32\" and \"manifest\"; "
                   "kiln compile writes one into every artifact)";
    return false;
  }
  std::string text = wrapped["manifest"].dump();
  if (crc32(text.data(), text.size()) != wrapped["crc32"].get<uint32_t>()) {
    error = path + ": checksum mismatch (the manifest was modified or damaged)";
    return false;
  }
  if (!manifestFromJson(wrapped["manifest"], m, error)) {
    error = path + ": " + error;
    return false;
  }
  return true;
}

bool isArtifactDirectory(const std::string &dir) {
  std::ifstream in(dir + "/manifest.json");
  json wrapped = json::parse(in, nullptr, false);
  return wrapped.is_object() && wrapped.contains("manifest") &&
         wrapped["manifest"].is_object() &&
         wrapped["manifest"].value("format", "") == "kiln-artifact";
}

} // namespace kiln
