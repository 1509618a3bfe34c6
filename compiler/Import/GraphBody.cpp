//===- GraphBody.cpp - a graph body: references and evaluation order ------===//
//
// The nodes of a module or of the objective are checked as a whole (ids
// well-formed and unique, every reference naming a node, something bound
// or an expression), ordered by their dependencies (a cycle is an error
// naming it), then built in that order: "call" nodes by the instances
// (ModuleInstances.cpp), every other node by NodeBuilder.cpp.
//
//===----------------------------------------------------------------------===//
#include "compiler/Import/Importer.h"

#include "Kiln/IR/KilnOps.h"

#include <algorithm>
#include <cctype>
#include <functional>

using namespace mlir;

namespace kiln {
namespace {

bool isIdentifier(const std::string &s) {
  if (s.empty() || !(std::isalpha((unsigned char)s[0]) || s[0] == '_'))
    return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum((unsigned char)c) || c == '_';
  });
}

std::string baseId(const std::string &ref) { return ref.substr(0, ref.find('.')); }

} // namespace

//===----------------------------------------------------------------------===//
// References
//===----------------------------------------------------------------------===//

bool Importer::isExpressionRef(const Env &env, const std::string &text) const {
  // "T*T", "x[0]/2", "1-momentum", or an argument's name.
  return text.find_first_of("+-*/%()[ ") != std::string::npos ||
         env.args.count(text) || globalArgs.count(text);
}

std::optional<Value> Importer::resolve(Env &env, const std::string &ptr,
                                       const json &ref) {
  const JsonSource &src = *env.src;
  if (ref.is_number()) {
    auto type = RankedTensorType::get({}, body.getF32Type());
    auto attr = DenseElementsAttr::get(type, ref.get<float>());
    return body.create<ConstantOp>(location(src, ptr, env.path), attr).getResult();
  }
  if (!ref.is_string()) {
    error(src, ptr, "a reference must be a node id string (or a number or "
                    "expression), got " +
                        describeJson(ref));
    return std::nullopt;
  }
  std::string text = ref.get<std::string>();
  std::string id = baseId(text);
  auto it = env.bound.find(id);
  if (it == env.bound.end() && isExpressionRef(env, text)) {
    auto n = number(src, ptr, ref, env.args, &env);
    if (!n)
      return std::nullopt;
    return resolve(env, ptr, json(*n));
  }
  if (it == env.bound.end()) {
    std::vector<std::string> names;
    for (auto &[k, _] : env.bound)
      names.push_back(k);
    error(src, ptr, "unknown input '" + id + "'" + suggest(id, names));
    return std::nullopt;
  }
  const Bound &b = it->second;
  if (text.size() == id.size()) {
    if (b.values.size() == 1 || b.firstIsDefault)
      return b.values.front();
    std::string outs;
    for (size_t i = 0; i < b.values.size(); ++i)
      outs += (outs.empty() ? "" : ", ") + id + "." +
              (b.names.empty() ? std::to_string(i) : b.names[i]);
    error(src, ptr, "'" + id + "' has " + std::to_string(b.values.size()) +
                        " outputs; name one: " + outs);
    return std::nullopt;
  }
  std::string out = text.substr(id.size() + 1);
  for (size_t i = 0; i < b.values.size(); ++i)
    if ((!b.names.empty() && b.names[i] == out) ||
        (b.names.empty() && std::to_string(i) == out))
      return b.values[i];
  std::vector<std::string> outs = b.names;
  if (outs.empty())
    for (size_t i = 0; i < b.values.size(); ++i)
      outs.push_back(std::to_string(i));
  error(src, ptr, "'" + id + "' has no output '" + out + "'" + suggest(out, outs));
  return std::nullopt;
}

//===----------------------------------------------------------------------===//
// The nodes, in dependency order
//===----------------------------------------------------------------------===//

bool Importer::evaluateNodes(Env &env) {
  const JsonSource &src = *env.src;
  const json &nodes = *env.nodes;
  if (!nodes.is_array()) {
    error(src, env.nodesPointer, "'nodes' must be a list, got " + describeJson(nodes));
    return false;
  }
  auto report = [&](const JsonSource &f, const std::string &p,
                    const std::string &m) { error(f, p, m); };

  // Ids: well-formed, unique, not shadowing an input or parameter.
  std::map<std::string, size_t> index;
  for (size_t i = 0; i < nodes.size(); ++i) {
    std::string p = pointerJoin(env.nodesPointer, std::to_string(i));
    if (!checkSchema(src, p, nodes[i], schemas::node, report))
      return false;
    std::string id = nodes[i]["id"].get<std::string>();
    if (!isIdentifier(id)) {
      error(src, pointerJoin(p, "id"),
            "id \"" + id + "\" must be a letter or '_' followed by letters, "
                           "digits or '_'");
      return false;
    }
    if (env.bound.count(id)) {
      error(src, pointerJoin(p, "id"),
            "duplicate id '" + id + "': an input or parameter has that name");
      return false;
    }
    auto [it, inserted] = index.try_emplace(id, i);
    if (!inserted) {
      LineCol first = src.position(
          pointerJoin(env.nodesPointer, std::to_string(it->second)));
      error(src, pointerJoin(p, "id"),
            "duplicate id '" + id + "' (first defined at line " +
                std::to_string(first.line) + ")");
      return false;
    }
  }

  // Dependencies; every reference names a node or something bound.
  std::vector<std::string> known;
  for (auto &[k, _] : env.bound)
    known.push_back(k);
  for (auto &[k, _] : index)
    known.push_back(k);
  std::vector<std::vector<size_t>> deps(nodes.size());
  for (size_t i = 0; i < nodes.size(); ++i) {
    if (!nodes[i].contains("in"))
      continue;
    const json &in = nodes[i]["in"];
    for (size_t j = 0; j < in.size(); ++j) {
      if (!in[j].is_string())
        continue; // numbers are constants; anything else fails in resolve
      std::string text = in[j].get<std::string>(), id = baseId(text);
      if (auto it = index.find(id); it != index.end()) {
        deps[i].push_back(it->second);
      } else if (!env.bound.count(id) && isExpressionRef(env, text)) {
        // Depends on the nodes whose dimensions it reads ("h[0]").
        for (auto &[name, node] : index)
          if (text.find(name + "[") != std::string::npos)
            deps[i].push_back(node);
      } else if (!env.bound.count(id)) {
        error(src,
              pointerJoin(pointerJoin(pointerJoin(env.nodesPointer, std::to_string(i)),
                                      "in"),
                          std::to_string(j)),
              "unknown input '" + id + "'" + suggest(id, known));
        return false;
      }
    }
  }

  // Topological order (depth first); a back edge is a cycle.
  std::vector<int> state(nodes.size(), 0); // 0 new, 1 on stack, 2 done
  std::vector<size_t> order, stack;
  std::function<bool(size_t)> visit = [&](size_t i) -> bool {
    if (state[i] == 2)
      return true;
    if (state[i] == 1) {
      std::string cycle;
      auto from = std::find(stack.begin(), stack.end(), i);
      for (auto it = from; it != stack.end(); ++it)
        cycle += nodes[*it]["id"].get<std::string>() + " -> ";
      cycle += nodes[i]["id"].get<std::string>();
      error(src, pointerJoin(env.nodesPointer, std::to_string(i)),
            "cycle between nodes: " + cycle);
      return false;
    }
    state[i] = 1;
    stack.push_back(i);
    for (size_t d : deps[i])
      if (!visit(d))
        return false;
    stack.pop_back();
    state[i] = 2;
    order.push_back(i);
    return true;
  };
  for (size_t i = 0; i < nodes.size(); ++i)
    if (!visit(i))
      return false;

  // Build in order.
  for (size_t i : order) {
    const json &node = nodes[i];
    std::string p = pointerJoin(env.nodesPointer, std::to_string(i));
    SmallVector<Value> operands;
    if (node.contains("in")) {
      if (!node["in"].is_array()) {
        error(src, pointerJoin(p, "in"),
              "'in' must be a list, got " + describeJson(node["in"]));
        return false;
      }
      for (size_t j = 0; j < node["in"].size(); ++j) {
        auto v = resolve(env, pointerJoin(pointerJoin(p, "in"), std::to_string(j)),
                         node["in"][j]);
        if (!v)
          return false;
        operands.push_back(*v);
      }
    }
    // "if": a node whose condition is 0 passes its first input through.
    if (node.contains("if")) {
      auto on = number(src, pointerJoin(p, "if"), node["if"], env.args, &env);
      if (!on)
        return false;
      if (*on == 0) {
        if (operands.empty()) {
          error(src, pointerJoin(p, "if"),
                "a node with \"if\" needs an input to pass through when off");
          return false;
        }
        env.bound[node["id"].get<std::string>()] = Bound{{operands[0]}, {}};
        continue;
      }
    }
    std::optional<Bound> result =
        node["op"] == "call" ? callNode(env, p, node, operands)
                             : buildNode(env, p, node, operands);
    if (!result)
      return false;
    env.bound[node["id"].get<std::string>()] = std::move(*result);
  }
  return true;
}

} // namespace kiln
