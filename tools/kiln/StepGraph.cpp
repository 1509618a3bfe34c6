//===- StepGraph.cpp - kiln inspect --graph: the step drawn ---------------===//
#include "StepGraph.h"
#include "CompilerProcess.h"

#include "runtime/artifact/DurableFile.h"

#include <cstdio>
#include <map>
#include <sstream>
#include <unistd.h>

namespace kiln {
namespace {

/// DOT string literal contents.
std::string dotEscaped(const std::string &s) {
  std::string out;
  for (char c : s)
    out += (c == '"' || c == '\\') ? std::string("\\") + c : std::string(1, c);
  return out;
}

/// Fill colour by kind: regions blue, library calls orange, collectives red.
const char *fillOf(const Thunk &t) {
  if (t.is<KernelLaunch>())
    return "#9ecae1";
  if (t.is<GemmCall>() || t.is<ConvCall>())
    return "#fdae6b";
  if (bucketTransfer(t))
    return "#fb6a4a";
  if (t.is<RandomFill>())
    return "#a1d99b";
  return "#d9d9d9"; // copies
}

/// What the thunk's first op is for: forward, backward or the update.
const char *roleOf(const Thunk &t) {
  const std::string op = t.ops.empty() ? "" : t.ops.front();
  if (op.rfind("grad(", 0) == 0 || op.rfind("clip(", 0) == 0)
    return "backward";
  if (op.rfind("update(", 0) == 0)
    return "update";
  return "forward";
}

} // namespace

std::string thunkShape(const Thunk &t) {
  return std::visit(
      Overloaded{
          [](const KernelLaunch &k) { return "rows " + std::to_string(k.rows); },
          [](const GemmCall &g) {
            return std::to_string(g.m) + "x" + std::to_string(g.n) + "x" + std::to_string(g.k) +
                   (g.batch.empty() ? "" : " batched");
          },
          [](const ConvCall &cv) {
            const ConvGeometry &g = cv.geometry;
            return std::to_string(g.kh) + "x" + std::to_string(g.kw) + " " +
                   std::to_string(g.c) + "->" + std::to_string(g.o) + " " +
                   std::to_string(g.ho) + "x" + std::to_string(g.wo);
          },
          [](const CopyBytes &cp) { return std::to_string(cp.bytes) + " bytes"; },
          [](const RandomFill &r) { return "stream " + std::to_string(r.stream); },
          [](const ShardSlice &s) { return "of " + std::to_string(s.ranks) + " ranks"; },
          [](const BucketTransfer &b) { return "bucket " + std::to_string(b.bucket); }},
      t.payload);
}

std::string stepGraphDot(const CompiledModel &c, const Program &p) {
  std::ostringstream dot;
  dot << "digraph \"" << dotEscaped(p.entry) << "\" {\n"
      << "  rankdir=TB; node [shape=box, style=\"filled,rounded\", fontname=\"monospace\", "
         "fontsize=10];\n"
      << "  // fill: blue region kernel, orange GEMM/conv, red collective, green random, "
         "grey copy; bold border: backward, dashed: optimizer update\n";
  std::map<int64_t, size_t> writer; // buffer -> the last thunk that wrote it
  for (size_t i = 0; i < p.thunks.size(); ++i) {
    const Thunk &t = p.thunks[i];
    std::string role = roleOf(t);
    // A region by its name, other thunks by kind and shape (a region's
    // byte copies by both).
    std::string shape = dotEscaped(std::string(t.kindName()) + " " + thunkShape(t));
    std::string head = t.name.empty() ? shape : dotEscaped(t.name);
    if (!t.name.empty() && !t.is<KernelLaunch>())
      head += "\\n" + shape;
    std::string op = t.ops.empty() ? "" : t.ops.front();
    dot << "  t" << i << " [label=\"" << i << ": " << head << "\\n" << dotEscaped(op)
        << "\", fillcolor=\"" << fillOf(t) << "\""
        << (role == "backward" ? ", penwidth=2.5" : role == "update" ? ", style=\"filled,dashed\"" : "")
        << ", tooltip=\"" << dotEscaped(op) << "\"];\n";
    std::map<size_t, std::vector<std::string>> from; // producer -> buffers read
    t.eachUse([&](int64_t id, Access a) {
      auto w = writer.find(id);
      if (a == Access::Read && w != writer.end() && w->second != i)
        from[w->second].push_back(c.buffers[id].name);
    });
    for (auto &[producer, buffers] : from)
      dot << "  t" << producer << " -> t" << i << " [tooltip=\"" << dotEscaped(buffers.front())
          << "\"];\n";
    t.eachUse([&](int64_t id, Access a) {
      if (a == Access::Write)
        writer[id] = i;
    });
  }
  dot << "}\n";
  return dot.str();
}

bool writeStepGraph(const CompiledModel &c, const Program &p, const std::string &path,
                    std::string &error) {
  std::string dot = stepGraphDot(c, p);
  size_t ext = path.rfind('.');
  std::string format = ext == std::string::npos ? "" : path.substr(ext + 1);
  auto write = [&](const std::string &file) { return writeFileAtomically(file, {dot}, error); };
  if (format == "dot" || format == "gv")
    return write(path);
  if (format != "svg" && format != "png" && format != "pdf") {
    error = path + ": give a .dot, .svg, .png or .pdf file";
    return false;
  }
  // Drawn beside the target and renamed over it: no partial file on failure.
  std::string temporary = path + ".tmp-" + std::to_string(::getpid());
  std::string dotFile = temporary + ".dot", drawn = temporary, spawnError;
  if (!write(dotFile))
    return false;
  // dot has no "--": a file name that starts with '-' is given as ./-...
  std::string input = dotFile[0] == '-' ? "./" + dotFile : dotFile;
  int rc = runProcess("dot", {"-T" + format, "-o" + drawn, input}, spawnError);
  std::remove(dotFile.c_str());
  if (rc < 0) {
    error = "drawing " + path + " needs Graphviz's dot (apt-get install graphviz; a .dot file "
            "needs nothing): " + spawnError;
    return false;
  }
  if (rc != 0 || std::rename(drawn.c_str(), path.c_str()) != 0) {
    std::remove(drawn.c_str());
    error = "Graphviz's dot could not draw " + path;
    return false;
  }
  return true;
}

} // namespace kiln
