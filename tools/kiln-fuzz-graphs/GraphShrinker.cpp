//===- GraphShrinker.cpp - a failing graph made minimal -------------------===//
#include "GraphShrinker.h"

#include <set>
#include <string>
#include <vector>

namespace kiln::fuzz {
namespace {

using json = nlohmann::ordered_json;

/// "n5" of "n5.1" (a split's result) or of "w.p0" (a network output).
std::string base(const std::string &ref) { return ref.substr(0, ref.find('.')); }

/// Every reference the objective's sinks and nodes make, through `fn`
/// (which may rewrite it).
template <typename Fn> void eachRef(json &g, Fn fn) {
  json &o = g["objective"];
  for (json &n : o["nodes"])
    for (json &in : n["in"])
      if (in.is_string())
        fn(in);
  if (o.contains("loss"))
    fn(o["loss"]);
  for (const char *section : {"metrics", "state_updates"})
    if (o.contains(section))
      for (auto &[k, v] : o[section].items())
        fn(v);
}

} // namespace

void removeUnread(json &g) {
  json &o = g["objective"];
  // Live nodes: what the sinks read, transitively.
  std::set<std::string> live;
  std::vector<std::string> work;
  auto reach = [&](const json &ref) {
    if (live.insert(base(ref.get<std::string>())).second)
      work.push_back(base(ref.get<std::string>()));
  };
  reach(o["loss"]);
  for (const char *section : {"metrics", "state_updates"})
    if (o.contains(section))
      for (auto &[k, v] : o[section].items())
        reach(v);
  while (!work.empty()) {
    std::string id = work.back();
    work.pop_back();
    for (const json &n : o["nodes"])
      if (n["id"] == id)
        for (const json &in : n["in"])
          if (in.is_string())
            reach(in);
  }
  json nodes = json::array();
  for (json &n : o["nodes"])
    if (live.count(n["id"].get<std::string>()))
      nodes.push_back(n);
  o["nodes"] = nodes;
  // Parameters read as w.NAME; inputs and state by name.
  std::set<std::string> read;
  eachRef(g, [&](json &ref) { read.insert(ref.get<std::string>()); });
  // (In a generated graph: the parameters module; another graph keeps its
  // modules as they are.)
  if (g.contains("modules") && g["modules"].contains("weights")) {
    json &module = g["modules"]["weights"];
    for (auto it = module["params"].begin(); it != module["params"].end();) {
      if (read.count("w." + it.key())) {
        ++it;
        continue;
      }
      module["outputs"].erase(it.key());
      it = module["params"].erase(it);
    }
  }
  for (auto it = o["inputs"].begin(); it != o["inputs"].end();)
    it = read.count(it.key()) ? std::next(it) : o["inputs"].erase(it);
  if (g.contains("state") && !read.count("s0")) {
    g.erase("state");
    o.erase("state_updates");
  }
}

json shrinkGraph(json graph, const std::function<bool(const json &)> &stillFails, int budget) {
  bool changed = true;
  while (changed && budget > 0) {
    changed = false;
    std::vector<json> candidates;
    json &o = graph["objective"];
    json plain = {{"kind", "sgd"}, {"lr", "lr"}};
    if (graph["optimizer"] != plain) {
      candidates.push_back(graph);
      candidates.back()["optimizer"] = plain;
    }
    for (const char *section : {"metrics", "state_updates"})
      if (o.contains(section))
        for (auto &[k, v] : o[section].items()) {
          json c = graph;
          c["objective"][section].erase(k);
          if (c["objective"][section].empty())
            c["objective"].erase(section);
          candidates.push_back(c);
        }
    // Each node, replaced by each of its inputs; the latest first.
    for (size_t i = o["nodes"].size(); i-- > 0;) {
      const json &n = o["nodes"][i];
      if (n["op"] == "call")
        continue;
      std::string id = n["id"];
      for (const json &in : n["in"]) {
        if (!in.is_string())
          continue;
        json c = graph;
        eachRef(c, [&](json &ref) {
          if (base(ref.get<std::string>()) == id)
            ref = in;
        });
        candidates.push_back(c);
      }
    }
    for (json &c : candidates) {
      removeUnread(c);
      if (c == graph)
        continue;
      if (--budget < 0)
        break;
      if (stillFails(c)) {
        graph = c;
        changed = true;
        break;
      }
    }
  }
  return graph;
}

} // namespace kiln::fuzz
