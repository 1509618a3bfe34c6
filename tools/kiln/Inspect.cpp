//===- Inspect.cpp - kiln inspect ------------------------------------------===//
//
// What an artifact will do before it runs: sizes, the buffer plan, and per
// program its thunks with their work (FLOPs) and memory traffic.
//
//===----------------------------------------------------------------------===//
#include "Args.h"
#include "Subcommands.h"

#include "runtime/artifact/Manifest.h"

#include <cstdio>
#include <map>

namespace kiln {
namespace {

/// The data-parallel plan: per all-reduce bucket its tensors and size, and
/// the work between its start and its wait, which runs while it is in
/// flight.
void printBuckets(const CompiledModel &c, const Program &p) {
  std::map<int64_t, size_t> starts;
  bool header = false;
  for (size_t i = 0; i < p.thunks.size(); ++i) {
    if (const AllReduceStart *start = p.thunks[i].as<AllReduceStart>())
      starts[start->bucket] = i;
    const AllReduceWait *wait = p.thunks[i].as<AllReduceWait>();
    if (!wait)
      continue;
    if (!header)
      std::printf("\n  all-reduce buckets (averaged over the ranks; none at world size 1)\n"
                  "  %6s %7s %10s %7s %7s %16s\n", "bucket", "tensors", "KB", "start", "wait",
                  "overlap GFLOP");
    header = true;
    size_t start = starts[wait->bucket];
    int64_t flops = 0;
    for (size_t j = start + 1; j < i; ++j)
      flops += p.thunks[j].flops;
    std::printf("  %6lld %7zu %10.1f %7zu %7zu %16.3f\n", (long long)wait->bucket,
                wait->tensors.size(), c.buffers[wait->bucketBuffer].bytes / 1e3, start, i,
                flops / 1e9);
  }
}

} // namespace

int inspectMain(int argc, char **argv) {
  Args args(argc, argv, {}, {"thunks", "buffers", "help"});
  const char *usage = "usage: kiln inspect OUT.kiln [--thunks] [--buffers]\n";
  if (args.flag("help")) {
    std::fputs(usage, stdout);
    return 0;
  }
  if (!args.ok() || args.positional.size() != 1) {
    std::fprintf(stderr, "kiln inspect: %s\n%s",
                 args.ok() ? "give one OUT.kiln" : args.error.c_str(), usage);
    return 2;
  }
  Manifest m;
  std::string error;
  if (!readManifest(args.positional[0] + "/manifest.json", m, error)) {
    std::fprintf(stderr, "kiln inspect: %s\n", error.c_str());
    return 1;
  }
  const CompiledModel &c = m.compiled;
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
              args.positional[0].c_str(), m.version, m.model.c_str(), m.source.c_str(),
              m.cpu.c_str(), (long long)m.batchSize);
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
                "traffic\n  %-22s %6s %10s %10s\n",
                p.entry.c_str(), p.thunks.size(), p.arenaBytes / 1e6, flops / 1e9, traffic / 1e6,
                "thunk kind", "count", "GFLOP", "MB");
    for (auto &[kind, v] : perKind)
      std::printf("  %-22s %6lld %10.3f %10.1f\n", kind.c_str(), (long long)std::get<0>(v),
                  std::get<1>(v) / 1e9, std::get<2>(v) / 1e6);
    printBuckets(c, p);
    if (!args.flag("thunks"))
      continue;
    std::printf("\n  %5s %-7s %-26s %9s %9s  %s\n", "#", "kind", "kernel / shape", "MFLOP", "KB", "ops");
    for (size_t i = 0; i < p.thunks.size(); ++i) {
      const Thunk &t = p.thunks[i];
      std::string what = std::visit(
          Overloaded{
              [&](const KernelLaunch &k) {
                const Kernel &kernel = c.kernels[k.kernel];
                return kernel.name + (m.cudaArchs.empty()      ? ""
                                      : kernel.gpu.rowPerBlock ? " [block/row]"
                                                               : " [thread/row]");
              },
              [](const GemmCall &g) {
                return std::to_string(g.m) + "x" + std::to_string(g.n) + "x" +
                       std::to_string(g.k) + (g.batch.empty() ? "" : " batched");
              },
              [](const ConvCall &cv) {
                const ConvGeometry &g = cv.geometry;
                return std::to_string(g.kh) + "x" + std::to_string(g.kw) + " " +
                       std::to_string(g.c) + "->" + std::to_string(g.o) + " " +
                       std::to_string(g.ho) + "x" + std::to_string(g.wo);
              },
              [](const CopyBytes &cp) { return std::to_string(cp.bytes) + " bytes"; },
              [](const RandomFill &r) { return "stream " + std::to_string(r.stream); },
              [](const BucketTransfer &b) { return "bucket " + std::to_string(b.bucket); }},
          t.payload);
      std::printf("  %5zu %-7s %-26s %9.2f %9.1f  %s\n", i, t.kindName(),
                  what.c_str(), t.flops / 1e6, t.trafficBytes / 1e3,
                  t.ops.empty() ? "" : t.ops[0].c_str());
    }
  }
  if (args.flag("buffers")) {
    std::printf("\n  %5s %-10s %12s %12s %-5s %s\n", "id", "region", "offset", "bytes", "dtype", "name");
    for (const Buffer &b : c.buffers)
      std::printf("  %5lld %-10s %12lld %12lld %-5s %s\n", (long long)b.id,
                  b.region == Region::Arena ? "arena" : "persistent", (long long)b.offset,
                  (long long)b.bytes, dtypeName(b.dtype), b.name.c_str());
  }
  return 0;
}

} // namespace kiln
