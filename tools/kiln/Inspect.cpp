//===- Inspect.cpp - kiln inspect ------------------------------------------===//
//
// What an artifact will do before it runs: sizes, the buffer plan (each
// arena buffer's first and last thunk, the peak live bytes; drawn by
// --memory-plot), and per
// program its thunks with their work (FLOPs), memory traffic and the
// buffers each reads and writes.
//
//===----------------------------------------------------------------------===//
#include "CommandLine.h"
#include "ArenaUse.h"
#include "GpuKernels.h"
#include "StepGraph.h"
#include "Subcommands.h"

#include "runtime/artifact/DurableFile.h"
#include "runtime/artifact/Manifest.h"
#include "runtime/artifact/ShardLayout.h"

#include <algorithm>
#include <cstdio>
#include <map>
#include <vector>

namespace kiln {
namespace {

/// The data-parallel plan: per bucket its collective (an all-reduce, or
/// with --shard-optimizer a reduce-scatter of gradients and an all-gather
/// of parameters), tensors, type and size, and the work between its start
/// and its wait, which runs while it is in flight.
void printBuckets(const CompiledModel &c, const Program &p) {
  std::map<int64_t, size_t> starts;
  bool header = false;
  for (size_t i = 0; i < p.thunks.size(); ++i) {
    const Thunk &t = p.thunks[i];
    const BucketTransfer *wait = bucketTransfer(t);
    if (!wait)
      continue;
    if (!isCollectiveWait(t)) {
      starts[wait->bucket] = i;
      continue;
    }
    if (!header)
      std::printf("\n  collective buckets (gradients averaged over the ranks; none at world size 1)\n"
                  "  %6s %7s %5s %10s %7s %7s %16s  %s\n", "bucket", "tensors", "type", "KB",
                  "start", "wait", "overlap GFLOP", "collective");
    header = true;
    size_t start = starts[wait->bucket];
    int64_t flops = 0;
    for (size_t j = start + 1; j < i; ++j)
      flops += p.thunks[j].flops;
    const Buffer &bucket = c.buffers[wait->bucketBuffer];
    std::string kind = t.kindName();
    kind = kind.substr(0, kind.size() - 5); // less "_wait"
    std::replace(kind.begin(), kind.end(), '_', '-');
    std::printf("  %6lld %7zu %5s %10.1f %7zu %7zu %16.3f  %s\n", (long long)wait->bucket,
                wait->tensors.size(), dtypeName(bucket.dtype), bucket.bytes / 1e3, start, i,
                flops / 1e9, kind.c_str());
  }
}

/// The program's buffers in the arena with their lifetimes, and the peak
/// of the bytes live at once (what the arena must at least hold).
void printBuffers(const CompiledModel &c, const Program &p) {
  std::map<int64_t, Lifetime> life = lifetimes(c, p);
  std::vector<int64_t> live = liveBytes(c, p, life);
  size_t peak = std::max_element(live.begin(), live.end()) - live.begin();
  std::printf("\n  %s: peak live %.3f MB at thunk %zu (%s), arena %.3f MB\n", p.entry.c_str(),
              live.empty() ? 0.0 : live[peak] / 1e6, peak,
              live.empty() ? "" : p.thunks[peak].label().c_str(),
              p.arenaBytes / 1e6);
  std::printf("  %5s %12s %12s %5s %6s %6s %4s  %s\n", "id", "offset", "bytes", "dtype", "first",
              "last", "peak", "name");
  for (auto &[id, l] : life) {
    const Buffer &b = c.buffers[id];
    std::printf("  %5lld %12lld %12lld %-5s %6zu %6zu %4s  %s\n", (long long)id,
                (long long)b.offset, (long long)b.bytes, dtypeName(b.dtype), l.first, l.last,
                l.first <= peak && peak <= l.last ? "*" : "", b.name.c_str());
  }
}

/// The buffer ids a thunk reads (or writes), as "3 7 12".
std::string uses(const Thunk &t, Access access) {
  std::string ids;
  t.eachUse([&](int64_t id, Access a) {
    if (a == access)
      ids += (ids.empty() ? "" : " ") + std::to_string(id);
  });
  return ids;
}

/// Every thunk that computes JSON node `node` or work for it (grad(node),
/// update(node), ...): its region, kernel and the buffers it reads and
/// writes with their lifetimes. False when no thunk does.
bool printNode(const CompiledModel &c, const std::string &node) {
  bool found = false;
  for (const Program &p : c.programs) {
    std::map<int64_t, Lifetime> life = lifetimes(c, p);
    for (size_t i = 0; i < p.thunks.size(); ++i) {
      const Thunk &t = p.thunks[i];
      // The node itself, or ROLE(...(node)...): clip(grad(P)) is work for P.
      auto forNode = [&](std::string op) {
        while (op != node && !op.empty() && op.back() == ')' && op.find('(') != std::string::npos)
          op = op.substr(op.find('(') + 1, op.size() - op.find('(') - 2);
        return op == node;
      };
      auto op = std::find_if(t.ops.begin(), t.ops.end(), forNode);
      if (op == t.ops.end())
        continue;
      found = true;
      std::printf("%s thunk %zu: %s %s  (as %s)\n", p.entry.c_str(), i, t.kindName(),
                  t.name.empty() ? thunkOp(c.kernels, t).c_str() : t.name.c_str(), op->c_str());
      if (const KernelLaunch *k = t.as<KernelLaunch>()) {
        const std::string &kernel = c.kernels[k->kernel].name;
        std::printf("  kernel %s (%s, rows %lld); kiln compile --dump-kernels-to DIR "
                    "writes DIR/%s.{mlir,llvm.mlir,in.ll,ll,s}\n",
                    kernel.c_str(), c.kernels[k->kernel].op.c_str(), (long long)k->rows,
                    kernel.c_str());
      }
      t.eachUse([&](int64_t id, Access a) {
        const Buffer &b = c.buffers[id];
        auto l = life.find(id);
        std::string when = l == life.end() ? b.kind + ", persistent"
                                           : "arena, thunks " + std::to_string(l->second.first) +
                                                 "-" + std::to_string(l->second.last);
        std::printf("  %-6s %5lld %10lld B  %s  [%s]\n", a == Access::Read ? "reads" : "writes",
                    (long long)id, (long long)b.bytes, b.name.c_str(), when.c_str());
      });
    }
  }
  return found;
}

} // namespace

int inspectMain(int argc, char **argv) {
  CommandLine cl("inspect", "What an artifact holds and will do.");
  std::string artifact;
  std::optional<std::string> graph, memoryPlot, entryName, node, target, gpuName;
  bool thunks = false, buffers = false;
  cl.positional("OUT.kiln", artifact, "the artifact");
  cl.flag("--thunks", thunks,
          "every thunk: its kernel or shape, work, traffic, the buffers it reads and writes, the "
          "op it came from");
  cl.flag("--buffers", buffers,
          "per program the arena buffers with their first and last thunk and the peak live "
          "set; the persistent buffers");
  cl.text("--graph", graph,
          "the step as a graph of regions, GEMMs and collectives (FILE.dot, or "
          ".svg/.png/.pdf drawn by Graphviz's dot)")->type_name("FILE");
  cl.text("--memory-plot", memoryPlot,
          "the arena bytes live at each thunk, the peak, and the largest buffers' "
          "lifetimes labelled by node")->type_name("FILE");
  cl.text("--program", entryName,
          "the program --graph and --memory-plot draw (default train_step; eval)")
      ->type_name("ENTRY");
  cl.text("--node", node,
          "the thunks computing JSON node NAME (or its grad/update): region, kernel, "
          "buffers read and written with lifetimes")->type_name("NAME");
  cl.choice("--target", target, {"cuda"},
            "per kernel of a --target=cuda artifact: launch, registers and spills (ptxas), "
            "occupancy, blocks against the SMs, bytes and the time a bandwidth model predicts "
            "on --gpu");
  cl.choice("--gpu", gpuName, {"h100", "h200"}, "the GPU --target cuda models (default h100)");
  if (auto status = cl.parse(argc, argv))
    return *status;
  if (gpuName && !target)
    return cl.usageError("--gpu needs --target cuda");
  for (auto [option, path] : {std::pair{"--graph", &graph}, {"--memory-plot", &memoryPlot}})
    if (std::string why; *path && !mayReplace(**path, OutputKind::Drawing, why))
      return cl.usageError(std::string(option) + " " + **path + ": " + why);
  Manifest m;
  std::string error;
  if (!readManifest(artifact + "/manifest.json", m, error)) {
    std::fprintf(stderr, "kiln inspect: %s\n", error.c_str());
    return 1;
  }
  const CompiledModel &c = m.compiled;
  std::optional<GpuModel> gpu;
  std::map<std::string, PtxasEntry> ptxas;
  if (target) {
    gpu = gpuModel(gpuName.value_or("h100"));
    if (std::find(m.cudaArchs.begin(), m.cudaArchs.end(), "sm_90") == m.cudaArchs.end()) {
      std::fprintf(stderr, "kiln inspect: %s has no sm_90 PTX: compile it with --target=cuda\n",
                   artifact.c_str());
      return 1;
    }
    if (!runPtxas(artifact + "/kernels.sm_90.ptx", ptxas, error)) {
      std::fprintf(stderr, "kiln inspect: %s\n", error.c_str());
      return 1;
    }
  }
  if (node) {
    if (printNode(c, *node))
      return 0;
    std::fprintf(stderr, "kiln inspect: no thunk computes node '%s' (--thunks lists them)\n",
                 node->c_str());
    return 1;
  }
  if (graph || memoryPlot) {
    std::string entry = entryName.value_or("train_step");
    auto p = std::find_if(c.programs.begin(), c.programs.end(),
                          [&](const Program &q) { return q.entry == entry; });
    if (p == c.programs.end()) {
      std::fprintf(stderr, "kiln inspect: --program: the artifact has no program '%s'\n",
                   entry.c_str());
      return 2;
    }
    const std::string &file = graph ? *graph : *memoryPlot;
    if (graph ? !writeStepGraph(c, *p, file, error) : !writeMemoryPlot(c, *p, file, error)) {
      std::fprintf(stderr, "kiln inspect: %s\n", error.c_str());
      return 1;
    }
    std::printf("kiln inspect: %s: %zu thunks of %s drawn\n", file.c_str(), p->thunks.size(),
                entry.c_str());
    return 0;
  }
  std::map<std::string, std::pair<int64_t, int64_t>> byKind; // kind -> (count, bytes)
  int64_t values = 0;
  for (const Buffer &b : c.buffers) {
    if (b.region == Region::Arena)
      continue;
    byKind[b.kind].first++;
    byKind[b.kind].second += b.bytes;
    if (b.kind == "param")
      values += b.bytes / elementBytes(b.dtype);
  }
  std::printf("artifact   %s (format %d)\nmodel      %s (from %s)\ncompiled   for CPU %s, batch %lld\n",
              artifact.c_str(), m.version, m.model.c_str(), m.source.c_str(),
              m.cpu.c_str(), (long long)m.batchSize);
  if (int64_t shards = shardRanks(c))
    std::printf("sharded    gradients and optimizer state over %lld ranks (--shard-optimizer)\n",
                (long long)shards);
  if (!m.trainingKey.empty())
    std::printf("training   key %s (a snapshot with this key resumes here)\n",
                m.trainingKey.c_str());
  std::printf("parameters %lld tensors, %lld values, %.2f MB\n", (long long)byKind["param"].first,
              (long long)values, byKind["param"].second / 1e6);
  for (auto &[kind, cb] : byKind)
    if (kind != "param")
      std::printf("%-10s %lld buffers, %.2f MB\n", kind.c_str(), (long long)cb.first, cb.second / 1e6);
  std::printf("persistent %.2f MB\nkernels    %zu in kernels.so (%.2f MB)\n",
              c.persistentBytes / 1e6, c.kernels.size(), m.files["kernels.so"].bytes / 1e6);
  if (!m.cudaArchs.empty()) {
    int perBlock = 0;
    for (const Kernel &k : c.kernels)
      perBlock += k.gpu.rowPerBlock;
    std::string archs;
    for (const std::string &a : m.cudaArchs)
      archs += (archs.empty() ? "" : ", ") + a;
    std::printf("GPU        PTX for %s: %d kernels a block per row, %d a thread per row\n",
                archs.c_str(), perBlock, (int)c.kernels.size() - perBlock);
  }
  for (const Program &p : c.programs) {
    int64_t flops = 0, traffic = 0;
    std::map<std::string, std::tuple<int64_t, int64_t, int64_t>> perKind; // count, flops, bytes
    for (const Thunk &t : p.thunks) {
      flops += t.flops;
      traffic += t.trafficBytes;
      std::string kind = thunkOp(c.kernels, t);
      auto &[n, f, b] = perKind[kind];
      ++n;
      f += t.flops;
      b += t.trafficBytes;
    }
    std::printf("\nprogram %s: %zu thunks, arena %.2f MB, per run %.3f GFLOP and %.1f MB of "
                "traffic\n",
                p.entry.c_str(), p.thunks.size(), p.arenaBytes / 1e6, flops / 1e9, traffic / 1e6);
    if (p.arenaBytesWithoutRecompute && p.arenaBytesWithoutRecompute != p.arenaBytes)
      std::printf("  recomputation: arena %.2f MB, %.2f MB keeping every activation "
                  "(--recompute none, no checkpoints)\n",
                  p.arenaBytes / 1e6, p.arenaBytesWithoutRecompute / 1e6);
    std::printf("  %-22s %6s %10s %10s\n", "thunk kind", "count", "GFLOP", "MB");
    for (auto &[kind, v] : perKind)
      std::printf("  %-22s %6lld %10.3f %10.1f\n", kind.c_str(), (long long)std::get<0>(v),
                  std::get<1>(v) / 1e9, std::get<2>(v) / 1e6);
    printBuckets(c, p);
    if (gpu)
      printGpuKernels(fitKernels(c, p, ptxas, *gpu), p, *gpu);
    if (buffers)
      printBuffers(c, p);
    if (!thunks)
      continue;
    // A kernel thunk by its region's name, and the kernel it runs where an
    // earlier region's identical kernel serves it.
    std::printf("\n  %5s %-7s %-26s %9s %9s  %s  %s\n", "#", "kind", "region / shape", "MFLOP",
                "KB", "op", "buffers: reads -> writes");
    for (size_t i = 0; i < p.thunks.size(); ++i) {
      const Thunk &t = p.thunks[i];
      std::string what = (t.name.empty() ? "" : t.name + " ") + thunkShape(t);
      if (const KernelLaunch *k = t.as<KernelLaunch>()) {
        const Kernel &kernel = c.kernels[k->kernel];
        what = t.name + (kernel.name == t.name ? "" : " = " + kernel.name) +
               (m.cudaArchs.empty()      ? ""
                : kernel.gpu.rowPerBlock ? " [block/row]"
                                         : " [thread/row]");
      }
      std::printf("  %5zu %-7s %-26s %9.2f %9.1f  %s  reads %s -> writes %s\n", i, t.kindName(),
                  what.c_str(), t.flops / 1e6, t.trafficBytes / 1e3,
                  t.ops.empty() ? "-" : t.ops[0].c_str(), uses(t, Access::Read).c_str(),
                  uses(t, Access::Write).c_str());
    }
  }
  if (buffers) {
    std::printf("\n  persistent buffers (live for the whole run)\n  %5s %12s %12s %-5s %-8s %s\n",
                "id", "offset", "bytes", "dtype", "kind", "name");
    for (const Buffer &b : c.buffers)
      if (b.region != Region::Arena)
        std::printf("  %5lld %12lld %12lld %-5s %-8s %s\n", (long long)b.id, (long long)b.offset,
                    (long long)b.bytes, dtypeName(b.dtype), b.kind.c_str(), b.name.c_str());
  }
  return 0;
}

} // namespace kiln
