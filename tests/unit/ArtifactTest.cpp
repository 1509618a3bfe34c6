//===- ArtifactTest.cpp - compiled steps against the oracle, and bad files ===//
//
// A tiny ViT classifier through the whole pipeline (import, train-step
// phases, artifact, runtime): 3 training steps must match the reference
// evaluator stepping the same IR in double precision. Every artifact file,
// truncated or with a flipped byte, must be refused with an error naming
// it; a manifest whose thunks break their contract, with one naming the
// place.
//
//===----------------------------------------------------------------------===//
#include "StepTestUtils.h"

#include "compiler/Artifact/ArtifactWriter.h"
#include "runtime/artifact/Manifest.h"
#include "runtime/exec/Executor.h"
#include "runtime/train/Schedule.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <set>
#include <unistd.h>

using namespace mlir;
using namespace kiln;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

/// A ViT on 8x8 images, 4 classes, AdamW with DINO's groups and a warmup
/// cosine lr, per-parameter clipping; batch 4. AdamW's eps is 1e-3: the
/// attention's key bias has a gradient that is 0 in exact arithmetic, and
/// with eps 1e-8 AdamW would turn its rounding noise (1e-9, different in
/// f32 and f64) into full-size steps, which no two precisions share.
std::string tinyClassifier() {
  json tiny = {{"img", 8}, {"patch", 4}, {"dim", 8}, {"depth", 1}, {"heads", 2}};
  json g = {
      {"kiln", 1},
      {"name", "tiny-classifier"},
      {"imports", {"lib/vit.json", "lib/losses.json"}},
      {"data", {{"dataset", "fashion-mnist"}, {"views", {{"v", {{"size", 8}}}}}}},
      {"modules",
       {{"net", {{"inputs", {"x"}},
                 {"nodes", {{{"id", "backbone"}, {"op", "call"}, {"module", "vit_fm"}, {"in", {"x"}}, {"args", tiny}},
                            {{"id", "head"}, {"op", "call"}, {"module", "linear"}, {"in", {"backbone"}},
                             {"args", {{"in", 8}, {"out", 4}}}}}},
                 {"outputs", {{"logits", "head"}}}}}}},
      {"networks", {{"net", {{"module", "net"}}}}},
      {"schedules", {{"lr", {{"kind", "warmup_cosine"}, {"base", 0.01}, {"final", 0.001}, {"warmup_epochs", 0.5}}}}},
      {"objective",
       {{"inputs", {{"image", {{"shape", {"batch", 1, 8, 8}}, {"source", "v"}}},
                    {"label", {{"shape", {"batch"}}, {"dtype", "i32"}, {"source", "label"}}}}},
        {"nodes", {{{"id", "net"}, {"op", "call"}, {"network", "net"}, {"in", {"image"}}},
                   {{"id", "ce"}, {"op", "call"}, {"module", "cross_entropy"}, {"in", {"net", "label"}},
                    {"args", {{"classes", 4}}}},
                   {{"id", "acc"}, {"op", "call"}, {"module", "accuracy"}, {"in", {"net", "label"}}}}},
        {"loss", "ce"},
        {"metrics", {{"accuracy", "acc"}}}}},
      {"optimizer", {{"kind", "adamw"}, {"lr", "lr"}, {"weight_decay", 0.05}, {"eps", 1e-3},
                     {"groups", {{{"match", "*.bias"}, {"weight_decay", 0}}, {{"match", "ndim<2"}, {"weight_decay", 0}}}},
                     {"clip", {{"kind", "per_param"}, {"max_norm", 1.0}}}}},
      {"train", {{"epochs", 1}, {"batch_size", 4}, {"seed", 3}}}};
  return g.dump();
}

RefTensor fromStored(const StoredTensor &t) {
  RefTensor r(t.shape);
  for (int64_t i = 0; i < r.size(); ++i) {
    float f;
    int32_t n;
    if (t.dtype == "F32") {
      std::memcpy(&f, &t.data[i * 4], 4);
      r.data[i] = f;
    } else {
      std::memcpy(&n, &t.data[i * 4], 4);
      r.data[i] = n;
    }
  }
  return r;
}

/// ‖a - b‖ / max(‖b‖, tiny) over a tensor.
double relativeError(const float *a, const RefTensor &b) {
  double diff = 0, norm = 0;
  for (int64_t i = 0; i < b.size(); ++i) {
    diff += (a[i] - b.data[i]) * (a[i] - b.data[i]);
    norm += b.data[i] * b.data[i];
  }
  return std::sqrt(diff) / std::max(std::sqrt(norm), 1e-30);
}

struct Compiled {
  OwningOpRef<ModuleOp> module;
  std::string dir;
  ~Compiled() {
    if (!dir.empty())
      fs::remove_all(dir);
  }
};

void compileTiny(Compiled &c, const PipelineOptions &options = {},
                 const std::string &graph = tinyClassifier()) {
  c.module = test::importText(graph, "lower", options);
  ASSERT_TRUE(c.module);
  c.dir = fs::temp_directory_path() / ("kiln-tiny-" + std::to_string(::getpid()) + ".kiln");
  std::string error;
  OwningOpRef<ModuleOp> copy = c.module->clone();
  ASSERT_TRUE(writeArtifact(*copy, c.dir, {}, error)) << error;
}

TEST(Artifact, ThreeTrainingStepsMatchReferenceEvaluator) {
  Compiled c;
  compileTiny(c);
  std::string error;
  auto exec = Executor::load(c.dir, 2, error);
  ASSERT_TRUE(exec) << error;
  const Manifest &m = exec->manifest();
  int program = exec->program("train_step");
  ASSERT_GE(program, 0);

  // The evaluator starts from the artifact's initial values.
  StepBindings b;
  for (auto &[name, t] : exec->tensors("param"))
    b.params[name] = fromStored(t);
  for (auto &[name, t] : exec->tensors("state"))
    b.state[name] = fromStored(t);
  std::mt19937 rng(17);
  for (int step = 0; step < 3; ++step) {
    std::uniform_real_distribution<double> u(-1, 1);
    RefTensor image({4, 1, 8, 8}), label({4});
    for (double &v : image.data)
      v = static_cast<float>(u(rng));
    for (double &v : label.data)
      v = static_cast<double>(rng() % 4);
    b.inputs = {{"image", image}, {"label", label}};
    for (const auto &in : m.inputs) {
      const RefTensor &t = b.inputs.at(in.name);
      for (int64_t i = 0; i < t.size(); ++i) {
        if (in.source == "label")
          exec->as<int32_t>(in.buffer)[i] = static_cast<int32_t>(t.data[i]);
        else
          exec->as<float>(in.buffer)[i] = static_cast<float>(t.data[i]);
      }
    }
    ScheduleClock clock{step, 0, 4, 1, 4};
    for (const auto &s : m.schedules) {
      float v = static_cast<float>(evaluateSchedule(s.spec, clock));
      *exec->as<float>(s.buffer) = v;
      b.schedules[s.name] = v;
    }
    exec->run(program);
    auto fn = *llvm::find_if(c.module->getOps<func::FuncOp>(),
                             [](func::FuncOp f) { return f.getName() == "objective"; });
    auto want = evaluateStep(fn, b);
    ASSERT_TRUE(succeeded(want));
    double loss = *exec->as<float>(exec->sinkBuffer(program, "loss", "loss"));
    EXPECT_NEAR(loss, want->loss, 1e-5 * std::fabs(want->loss)) << "step " << step;
    for (auto &[name, t] : want->params)
      b.params[name] = t;
    for (auto &[name, t] : want->state)
      b.state[name] = t;
  }
  double worst = 0;
  for (auto &[name, t] : b.params) {
    double err = relativeError(exec->as<float>(exec->bufferNamed(name, "param")), t);
    worst = std::max(worst, err);
    EXPECT_LT(err, 1e-5) << name;
  }
  std::cout << "[train-step] 3 steps, worst parameter error " << worst << "\n";
}

/// Copies the artifact, damages one file, and expects the load to fail
/// with an error that names the file.
void expectRefused(const std::string &dir, const std::string &file, bool truncate,
                   const std::string &expected) {
  std::string copy = dir + ".damaged";
  fs::remove_all(copy);
  fs::copy(dir, copy);
  std::string path = copy + "/" + file;
  auto size = fs::file_size(path);
  if (truncate) {
    fs::resize_file(path, size / 2);
  } else {
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    f.seekg(size / 2);
    char byte;
    f.get(byte);
    f.seekp(size / 2);
    f.put(static_cast<char>(byte ^ 0x10));
  }
  std::string error;
  auto exec = Executor::load(copy, 1, error);
  EXPECT_FALSE(exec) << file << (truncate ? " truncated" : " flipped") << " was accepted";
  EXPECT_NE(error.find(file), std::string::npos) << error;
  EXPECT_NE(error.find(expected), std::string::npos) << error;
  fs::remove_all(copy);
}

TEST(Artifact, DamagedFilesAreRefusedByName) {
  Compiled c;
  compileTiny(c);
  for (const char *file : {"kernels.so", "params.safetensors", "state.safetensors",
                           "constants.safetensors", "step.mlir"}) {
    expectRefused(c.dir, file, true, "truncated");
    expectRefused(c.dir, file, false, "checksum mismatch");
  }
  expectRefused(c.dir, "manifest.json", true, "not a valid manifest");
  expectRefused(c.dir, "manifest.json", false, "manifest.json");
  // And an intact copy still loads.
  std::string error;
  EXPECT_TRUE(Executor::load(c.dir, 1, error)) << error;
}

/// The declared uses describe real dataflow: every arena buffer a thunk
/// reads was written by an earlier thunk of the same program (a payload
/// declaring a write as a read, or the reverse, breaks this), and every
/// buffer written is read later or is persistent or a sink's.
TEST(Artifact, ThunkUsesAreTheDataflow) {
  Compiled c;
  compileTiny(c);
  Manifest m;
  std::string error;
  ASSERT_TRUE(readManifest(c.dir + "/manifest.json", m, error)) << error;
  for (const Program &p : m.compiled.programs) {
    std::set<int64_t> written, read;
    for (const Sink &s : p.sinks)
      read.insert(s.buffer);
    for (auto [i, t] : llvm::enumerate(p.thunks)) {
      t.eachUse([&, i = i](int64_t id, Access a) {
        const Buffer &b = m.compiled.buffers[id];
        if (a == Access::Read) {
          read.insert(id);
          EXPECT_TRUE(b.region == kiln::Region::Persistent || written.count(id))
              << p.entry << " thunk " << i << " (" << t.kindName() << ") reads " << b.name
              << " before any thunk writes it";
        } else {
          written.insert(id);
        }
      });
    }
    for (int64_t id : written)
      EXPECT_TRUE(read.count(id) || m.compiled.buffers[id].region == kiln::Region::Persistent)
          << p.entry << ": " << m.compiled.buffers[id].name << " is written and never read";
  }
}

/// The manifest of `dir` as JSON, after checking that the runtime reads it
/// back to the same JSON.
nlohmann::ordered_json manifestRoundTrip(const std::string &dir) {
  Manifest m, again;
  std::string error;
  EXPECT_TRUE(readManifest(dir + "/manifest.json", m, error)) << error;
  auto body = manifestToJson(m);
  EXPECT_TRUE(manifestFromJson(body, again, error)) << error;
  EXPECT_EQ(manifestToJson(again), body);
  return body;
}

/// The manifest's thunks, as the runtime reads them: the serialised
/// payloads read back to the same JSON, and a manifest whose thunks break
/// their contract is refused with the JSON path of the place.
TEST(Artifact, ManifestThunksAreCheckedByPlace) {
  Compiled c;
  compileTiny(c);
  const auto body = manifestRoundTrip(c.dir);

  auto thunkOfKind = [&](const char *kind) {
    const auto &thunks = body["programs"][0]["thunks"];
    for (size_t i = 0; i < thunks.size(); ++i)
      if (thunks[i]["kind"] == kind)
        return "/programs/0/thunks/" + std::to_string(i);
    ADD_FAILURE() << "no " << kind << " thunk";
    return std::string("/");
  };
  auto expectThunkRefused = [&](const std::string &path, auto edit, const std::string &expected) {
    auto damaged = body;
    edit(damaged[nlohmann::ordered_json::json_pointer(path)]);
    Manifest out;
    std::string why;
    EXPECT_FALSE(manifestFromJson(damaged, out, why)) << path << " accepted";
    EXPECT_NE(why.find(expected), std::string::npos) << why;
  };
  std::string kernel = thunkOfKind("kernel"), gemm = thunkOfKind("gemm"),
              start = thunkOfKind("all_reduce_start");
  expectThunkRefused("/version", [](auto &v) { v = kArtifactVersion - 1; }, "recompile the model");
  expectThunkRefused(kernel + "/args/0/access", [](auto &v) { v = "readwrite"; },
                kernel + "/args/0/access: expected read or write");
  expectThunkRefused(kernel + "/args/0/buffer", [](auto &v) { v = 99999; }, "no buffer 99999");
  expectThunkRefused(gemm, [](auto &v) { v.erase("c"); }, gemm + ": missing 'c'");
  expectThunkRefused(start + "/tensors", [](auto &v) { v.erase(v.size() - 1); },
                "add up to its size");
  expectThunkRefused(start + "/kind", [](auto &v) { v = "all_gather"; },
                "unknown thunk kind 'all_gather'");
}

/// With --shard-optimizer: sharded state, the shard thunks and sharded
/// buckets are read back as written, and each is checked against its
/// buffers' sizes.
TEST(Artifact, ShardedManifestIsChecked) {
  Compiled c;
  PipelineOptions options;
  options.shardOptimizer = true;
  auto graph = nlohmann::json::parse(tinyClassifier());
  graph["optimizer"].erase("clip"); // sharded updates are elementwise
  compileTiny(c, options, graph.dump());
  const auto body = manifestRoundTrip(c.dir);

  auto refused = [&](auto edit, const std::string &expected) {
    auto damaged = body;
    edit(damaged);
    Manifest out;
    std::string why;
    EXPECT_FALSE(manifestFromJson(damaged, out, why)) << expected << ": accepted";
    EXPECT_NE(why.find(expected), std::string::npos) << why;
  };
  auto &thunks = body["programs"][0]["thunks"];
  auto at = [&](const char *kind) {
    for (size_t i = 0; i < thunks.size(); ++i)
      if (thunks[i]["kind"] == kind)
        return i;
    ADD_FAILURE() << "no " << kind << " thunk";
    return size_t(0);
  };
  size_t shard = at("shard"), scatter = at("reduce_scatter_start"), gather = at("all_gather_wait");
  refused([&](auto &j) { j["programs"][0]["thunks"][shard]["ranks"] = 2; },
          "a shard thunk writes its input's chunk over its ranks");
  refused([&](auto &j) { j["programs"][0]["thunks"][scatter]["ranks"] = 7; }, "add up to its size");
  refused([&](auto &j) { j["programs"][0]["thunks"][gather]["tensors"].erase(0); },
          "add up to its size");
  for (auto &b : body["buffers"])
    if (b.contains("shards")) {
      int64_t id = b["id"];
      refused([&](auto &j) { j["buffers"][id]["shards"] = 2; }, "over 2 ranks holds");
      break;
    }
}

} // namespace
