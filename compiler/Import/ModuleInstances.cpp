//===- ModuleInstances.cpp - parameters, module and network calls ---------===//
//
// A "call" node instantiates a module (with arguments, `repeat` for
// stacks) or a network (a module instance with the network's own
// arguments, from the objective only). Each instance binds its inputs and
// creates its parameters, named by the instance path as PyTorch would name
// them; a network decides how they start (fresh, EMA copy, frozen file).
//
//===----------------------------------------------------------------------===//
#include "compiler/Import/Importer.h"

#include "Kiln/IR/KilnOps.h"

#include "mlir/IR/Verifier.h"

#include <sstream>

using namespace mlir;

namespace kiln {

//===----------------------------------------------------------------------===//
// Parameters
//===----------------------------------------------------------------------===//

DictionaryAttr Importer::kindDict(const JsonSource &src, const std::string &ptr,
                                  const json &value, const Args &args,
                                  const std::vector<DictKind> &kinds, const std::string &what) {
  if (!value.is_object() || !value.contains("kind") || !value["kind"].is_string()) {
    error(src, ptr, "a " + what + " is an object with a string 'kind', got " + describeJson(value));
    return nullptr;
  }
  std::string kind = value["kind"].get<std::string>();
  const DictKind *spec = findKind(kinds, kind);
  if (!spec) {
    std::vector<std::string> names;
    std::string known;
    for (const DictKind &k : kinds) {
      names.push_back(k.kind);
      known += (known.empty() ? "" : ", ") + std::string(k.kind);
    }
    std::string hint = suggest(kind, names);
    error(src, pointerJoin(ptr, "kind"), "unknown " + what + " kind '" + kind + "'" +
                                             (hint.empty() ? " (known: " + known + ")" : hint));
    return nullptr;
  }
  Builder b(&context);
  SmallVector<NamedAttribute> items = {b.getNamedAttr("kind", b.getStringAttr(kind))};
  for (auto &[key, v] : value.items()) {
    std::string p = pointerJoin(ptr, key);
    if (key == "kind" || key == "doc")
      continue;
    const DictKey *keySpec = spec->key(key);
    if (!keySpec) {
      std::vector<std::string> names;
      for (const DictKey &k : spec->keys)
        names.push_back(k.name);
      error(src, p, what + " kind '" + kind + "' takes no key '" + key + "'" + suggest(key, names));
      return nullptr;
    }
    if (keySpec->type == KeyType::String && v.is_string()) {
      items.push_back(b.getNamedAttr(key, b.getStringAttr(v.get<std::string>())));
    } else if (keySpec->type == KeyType::Bool && v.is_boolean()) {
      items.push_back(b.getNamedAttr(key, b.getBoolAttr(v.get<bool>())));
    } else if (keySpec->type == KeyType::Number) {
      auto n = number(src, p, v, args);
      if (!n)
        return nullptr;
      items.push_back(b.getNamedAttr(key, b.getF64FloatAttr(*n)));
    } else {
      error(src, p, what + " key '" + key + "' must be a " +
                        (keySpec->type == KeyType::String ? "string" : "boolean") + ", got " +
                        describeJson(v));
      return nullptr;
    }
  }
  for (const DictKey &k : spec->keys)
    if (k.required && !value.contains(k.name)) {
      error(src, ptr, what + " kind '" + kind + "' needs key '" + k.name + "'");
      return nullptr;
    }
  return b.getDictionaryAttr(items);
}

Value Importer::createParam(const JsonSource &src, const std::string &ptr,
                            const std::string &name, const json &entry,
                            const Args &args, const NetworkContext *network) {
  auto shape = intList(src, pointerJoin(ptr, "shape"), entry["shape"], args);
  if (!shape)
    return nullptr;
  auto type = RankedTensorType::get(*shape, body.getF32Type());
  auto it = params.find(name);
  if (it != params.end()) {
    // The same network called again (e.g. on local crops): shared weights.
    if (it->second.getType() != type) {
      error(src, ptr,
            "parameter '" + name + "' is " + typeString(type) +
                " here but was created as " + typeString(it->second.getType()));
      return nullptr;
    }
    return it->second;
  }
  Builder b(&context);
  StringAttr emaOf;
  DictionaryAttr init = sourceInit(src, ptr, name, entry, args, network, &emaOf);
  if (!init)
    return nullptr;
  auto op = createSource<ParamOp>(location(src, ptr, name), type,
                                    b.getStringAttr(name), init, emaOf,
                                    network && network->frozen ? b.getUnitAttr()
                                                               : nullptr);
  if (mlir::failed(mlir::verify(op))) {
    failed = true;
    return nullptr;
  }
  params[name] = op;
  return op;
}

DictionaryAttr Importer::sourceInit(const JsonSource &src, const std::string &ptr,
                                    const std::string &name, const json &entry,
                                    const Args &args, const NetworkContext *network,
                                    StringAttr *emaOf) {
  Builder b(&context);
  // The name without its network prefix, as exported.
  std::string local = name.substr(network ? network->name.size() + 1 : 0);
  if (emaOf && network && !network->emaOf.empty()) {
    std::string source = network->emaOf + "." + local;
    *emaOf = b.getStringAttr(source);
    return b.getDictionaryAttr({b.getNamedAttr("kind", b.getStringAttr("copy")),
                                b.getNamedAttr("from", b.getStringAttr(source))});
  }
  if (network && !network->initFrom.empty())
    return b.getDictionaryAttr(
        {b.getNamedAttr("kind", b.getStringAttr("network_file")),
         b.getNamedAttr("path", b.getStringAttr(network->initFrom)),
         b.getNamedAttr("tensor", b.getStringAttr(network->initPrefix + local))});
  return kindDict(src, pointerJoin(ptr, "init"), entry["init"], args, kInitKinds, "init");
}

//===----------------------------------------------------------------------===//
// Module state
//===----------------------------------------------------------------------===//

Value Importer::moduleStateValue(const JsonSource &src, const std::string &ptr,
                                 const std::string &name, const json &entry, const Args &args,
                                 const NetworkContext *network) {
  auto shape = intList(src, pointerJoin(ptr, "shape"), entry["shape"], args);
  if (!shape)
    return nullptr;
  auto type = RankedTensorType::get(*shape, body.getF32Type());
  auto it = moduleState.find(name);
  if (it != moduleState.end()) {
    if (it->second.current.getType() != type) {
      error(src, ptr, "state '" + name + "' is " + typeString(type) + " here but was created as " +
                          typeString(it->second.current.getType()));
      return nullptr;
    }
    return it->second.current;
  }
  // An EMA teacher keeps statistics of its own (DINO averages parameters
  // only); a frozen network's come from its file with its parameters.
  DictionaryAttr init = sourceInit(src, ptr, name, entry, args, network, nullptr);
  if (!init)
    return nullptr;
  auto op = createSource<StateOp>(location(src, ptr, name), type, body.getStringAttr(name), init);
  if (mlir::failed(mlir::verify(op))) {
    failed = true;
    return nullptr;
  }
  moduleState[name] = {op, false};
  return op;
}

bool Importer::updateModuleState(Env &env, const ModuleDef &mod, const json &def) {
  if (!def.contains("state_updates"))
    return true;
  const JsonSource &src = *mod.src;
  std::string sp = pointerJoin(mod.pointer, "state_updates");
  std::vector<std::string> declared;
  if (def.contains("state"))
    for (auto &[k, _] : def["state"].items())
      declared.push_back(k);
  for (auto &[k, ref] : def["state_updates"].items()) {
    std::string p = pointerJoin(sp, k);
    if (std::find(declared.begin(), declared.end(), k) == declared.end()) {
      error(src, p, "'" + k + "' is not a state of this module" + suggest(k, declared));
      return false;
    }
    auto v = resolve(env, p, ref);
    if (!v)
      return false;
    ModuleState &state = moduleState[env.path + "." + k];
    if (v->getType() != state.current.getType()) {
      error(src, p, "the update of state '" + k + "' is " + typeString(v->getType()) +
                        ", the state is " + typeString(state.current.getType()));
      return false;
    }
    // A frozen network's statistics stay as loaded; the evaluation entry
    // updates nothing.
    if (!updatesModuleState || (env.network && env.network->frozen))
      continue;
    state.current = *v;
    state.updated = true;
  }
  return true;
}

bool Importer::emitModuleStateUpdates() {
  for (auto &[name, state] : moduleState) {
    if (!state.updated)
      continue;
    auto op = body.create<UpdateStateOp>(state.current.getLoc(), body.getStringAttr(name),
                                         state.current);
    if (mlir::failed(mlir::verify(op))) {
      failed = true;
      return false;
    }
  }
  return true;
}

//===----------------------------------------------------------------------===//
// Module instances and calls
//===----------------------------------------------------------------------===//

std::optional<Bound> Importer::instantiate(const std::string &moduleName,
                                           const JsonSource &callSrc,
                                           const std::string &callPtr,
                                           const std::string &path,
                                           const Args &callArgs,
                                           ArrayRef<Value> inputs,
                                           const NetworkContext *network) {
  auto found = modules.find(moduleName);
  if (found == modules.end()) {
    std::vector<std::string> names;
    for (auto &[k, _] : modules)
      names.push_back(k);
    error(callSrc, callPtr, "unknown module '" + moduleName + "'" +
                                suggest(moduleName, names));
    return std::nullopt;
  }
  for (const CallSite &c : callSites)
    if (c.network.empty() && c.module == moduleName) {
      std::string chain;
      for (const CallSite &d : callSites)
        if (d.network.empty())
          chain += d.module + " -> ";
      error(callSrc, callPtr, "module '" + moduleName + "' calls itself: " + chain + moduleName);
      return std::nullopt;
    }
  // Everything below, errors and ops alike, carries this call.
  callSites.push_back({moduleName, &callSrc, callPtr});
  struct Pop {
    std::vector<CallSite> &sites;
    ~Pop() { sites.pop_back(); }
  } pop{callSites};
  const ModuleDef &mod = found->second;
  const JsonSource &src = *mod.src;
  const json &def = *mod.def;

  // Arguments: declared ones with defaults, overridden by the call.
  Env env{&src, pointerJoin(mod.pointer, "nodes"), &def["nodes"], {}, path,
          network, {}};
  std::vector<std::string> declared;
  if (def.contains("args")) {
    for (auto &[k, v] : def["args"].items()) {
      declared.push_back(k);
      if (v.is_null())
        continue; // required
      auto n = number(src, pointerJoin(pointerJoin(mod.pointer, "args"), k), v,
                      env.args);
      if (!n)
        return std::nullopt;
      env.args[k] = *n;
    }
  }
  for (auto &[k, v] : callArgs) {
    if (std::find(declared.begin(), declared.end(), k) == declared.end()) {
      error(callSrc, pointerJoin(callPtr, "args"),
            "module '" + moduleName + "' has no argument '" + k + "'" +
                suggest(k, declared));
      return std::nullopt;
    }
    env.args[k] = v;
  }
  // A module's own argument hides the graph's of the same name: unless the
  // call passes it on, the module's default wins, a mistake when they differ.
  for (const std::string &k : declared) {
    auto global = globalArgs.find(k);
    if (callArgs.count(k) || !env.args.count(k) || !graphArgNames.count(k) ||
        env.args[k] == global->second)
      continue;
    std::ostringstream message;
    message << "module '" << moduleName << "' has its own argument '" << k << "' (default "
            << env.args[k] << "), which the graph's args." << k << " = " << global->second
            << " does not reach: pass it on, \"args\": {\"" << k << "\": \"" << k << "\"}";
    error(callSrc, callPtr, message.str());
    return std::nullopt;
  }
  for (const std::string &k : declared) {
    if (!env.args.count(k)) {
      error(callSrc, callPtr,
            "module '" + moduleName + "' needs argument '" + k + "'");
      return std::nullopt;
    }
  }

  // Inputs.
  const json &inputNames = def["inputs"];
  if (inputNames.size() != inputs.size()) {
    std::string names;
    for (const json &n : inputNames)
      names += (names.empty() ? "" : ", ") + n.dump();
    error(callSrc, callPtr,
          "module '" + moduleName + "' takes " +
              std::to_string(inputNames.size()) + " input(s) (" + names +
              "), got " + std::to_string(inputs.size()));
    return std::nullopt;
  }
  for (size_t i = 0; i < inputs.size(); ++i) {
    std::string p = pointerJoin(pointerJoin(mod.pointer, "inputs"), std::to_string(i));
    if (!inputNames[i].is_string()) {
      error(src, p, "an input name must be a string, got " +
                        describeJson(inputNames[i]));
      return std::nullopt;
    }
    env.bound[inputNames[i].get<std::string>()] = Bound{{inputs[i]}, {}};
  }

  // Parameters, then state (running statistics): bound by name; the
  // state's updates are read after the nodes.
  for (const char *section : {"params", "state"}) {
    if (!def.contains(section))
      continue;
    bool param = std::string(section) == "params";
    for (auto &[k, entry] : def[section].items()) {
      std::string p = pointerJoin(pointerJoin(mod.pointer, section), k);
      if (env.bound.count(k)) {
        error(src, p, std::string(param ? "parameter '" : "state '") + k +
                          "' has the same name as an input" + (param ? "" : " or parameter"));
        return std::nullopt;
      }
      Value v = param ? createParam(src, p, path + "." + k, entry, env.args, network)
                      : moduleStateValue(src, p, path + "." + k, entry, env.args, network);
      if (!v)
        return std::nullopt;
      env.bound[k] = Bound{{v}, {}};
    }
  }

  bool ok = evaluateNodes(env) && updateModuleState(env, mod, def);
  if (!ok)
    return std::nullopt;

  Bound out;
  std::string outPtr = pointerJoin(mod.pointer, "outputs");
  for (auto &[name, ref] : def["outputs"].items()) {
    auto v = resolve(env, pointerJoin(outPtr, name), ref);
    if (!v)
      return std::nullopt;
    out.values.push_back(*v);
    out.names.push_back(name);
  }
  if (out.values.empty()) {
    error(src, outPtr, "module '" + moduleName + "' has no outputs");
    return std::nullopt;
  }
  return out;
}

std::optional<Bound> Importer::callNode(Env &env, const std::string &ptr,
                                        const json &node,
                                        ArrayRef<Value> inputs) {
  const JsonSource &src = *env.src;
  std::string id = node["id"].get<std::string>();
  for (auto &[key, _] : node.items()) {
    static const std::vector<std::string> keys = {
        "id", "op", "in", "doc", "if", "module", "network", "args", "repeat", "as", "checkpoint"};
    if (std::find(keys.begin(), keys.end(), key) == keys.end()) {
      error(src, pointerJoin(ptr, key),
            "unknown key '" + key + "' for op 'call'" + suggest(key, keys));
      return std::nullopt;
    }
  }
  if (node.contains("network") == node.contains("module")) {
    error(src, ptr, "a call names exactly one of 'module' or 'network'");
    return std::nullopt;
  }
  // "checkpoint": true, false, or an expression of the module's arguments
  // (and of `index` in a repeat); non-zero: recompute the instance in
  // backward (kiln-recompute).
  auto checkpointAt = [&](const Args &scope) -> std::optional<bool> {
    if (!node.contains("checkpoint"))
      return false;
    const json &c = node["checkpoint"];
    if (c.is_boolean())
      return c.get<bool>();
    if (!c.is_number() && !c.is_string()) {
      error(src, pointerJoin(ptr, "checkpoint"),
            "'checkpoint' must be true, false or an expression, got " + describeJson(c));
      return std::nullopt;
    }
    auto on = number(src, pointerJoin(ptr, "checkpoint"), c, scope, &env);
    return on ? std::optional<bool>(*on != 0) : std::nullopt;
  };

  if (node.contains("network")) {
    if (!env.path.empty()) {
      error(src, pointerJoin(ptr, "network"),
            "networks are called from the objective, not from a module");
      return std::nullopt;
    }
    if (node.contains("args") || node.contains("repeat") || node.contains("as")) {
      error(src, ptr, "a network call takes no 'args', 'repeat' or 'as'; the "
                      "network's own section fixes them");
      return std::nullopt;
    }
    const json &name = node["network"];
    auto it = name.is_string() ? networks.find(name.get<std::string>())
                               : networks.end();
    if (it == networks.end()) {
      std::vector<std::string> names;
      for (auto &[k, _] : networks)
        names.push_back(k);
      error(src, pointerJoin(ptr, "network"),
            "unknown network " + describeJson(name) +
                (name.is_string() ? suggest(name.get<std::string>(), names) : ""));
      return std::nullopt;
    }
    const JsonSource &top = *files.front();
    const json &net = top.root()["networks"][it->first];
    std::string netPtr = pointerJoin("/networks", it->first);
    Args args;
    if (net.contains("args"))
      for (auto &[k, v] : net["args"].items()) {
        auto n = number(top, pointerJoin(pointerJoin(netPtr, "args"), k), v, {});
        if (!n)
          return std::nullopt;
        args[k] = *n;
      }
    // A frozen network runs as in evaluation (batch norm on its running
    // statistics, no dropout), as a distillation teacher in eval() mode.
    double training = globalArgs["training"];
    if (it->second.frozen)
      globalArgs["training"] = 0;
    auto checkpoint = checkpointAt(env.args);
    if (!checkpoint)
      return std::nullopt;
    if (*checkpoint)
      checkpointed.insert(it->first);
    callSites.push_back({id, &src, ptr, it->first});
    auto out = instantiate(net["module"].get<std::string>(), top, netPtr, it->first, args,
                           inputs, &it->second);
    callSites.pop_back();
    globalArgs["training"] = training;
    return out;
  }

  if (!node["module"].is_string()) {
    error(src, pointerJoin(ptr, "module"),
          "'module' must be a module name, got " + describeJson(node["module"]));
    return std::nullopt;
  }
  std::string moduleName = node["module"].get<std::string>();
  int64_t repeat = 1;
  if (node.contains("repeat")) {
    auto r = integer(src, pointerJoin(ptr, "repeat"), node["repeat"], env.args,
                     &env);
    if (!r)
      return std::nullopt;
    if (*r < 1) {
      error(src, pointerJoin(ptr, "repeat"), "repeat must be at least 1");
      return std::nullopt;
    }
    repeat = *r;
  }
  if (node.contains("args") && !node["args"].is_object()) {
    error(src, pointerJoin(ptr, "args"),
          "'args' must be an object, got " + describeJson(node["args"]));
    return std::nullopt;
  }
  // "as" names the instance in parameter paths where PyTorch's name is no
  // identifier (an nn.Sequential's "downsample.0").
  std::string name = id;
  if (node.contains("as")) {
    const json &as = node["as"];
    if (!as.is_string() || as.get<std::string>().empty() ||
        as.get<std::string>().find_first_of(" \t") != std::string::npos) {
      error(src, pointerJoin(ptr, "as"),
            "'as' must be a non-empty name without spaces, got " + describeJson(as));
      return std::nullopt;
    }
    name = as.get<std::string>();
  }
  std::string base = env.path.empty() ? name : env.path + "." + name;
  SmallVector<Value> current(inputs.begin(), inputs.end());
  std::optional<Bound> out;
  for (int64_t i = 0; i < repeat; ++i) {
    // `index` is the repeat index inside the call's argument expressions.
    Args scope = env.args;
    scope["index"] = static_cast<double>(i);
    Args callArgs;
    if (node.contains("args"))
      for (auto &[k, v] : node["args"].items()) {
        auto n = number(src, pointerJoin(pointerJoin(ptr, "args"), k), v, scope,
                        &env);
        if (!n)
          return std::nullopt;
        callArgs[k] = *n;
      }
    std::string path = node.contains("repeat") ? base + "." + std::to_string(i)
                                               : base;
    auto checkpoint = checkpointAt(scope); // each repeat a segment of its own
    if (!checkpoint)
      return std::nullopt;
    if (*checkpoint)
      checkpointed.insert(path);
    out = instantiate(moduleName, src, ptr, path, callArgs, current, env.network);
    if (!out)
      return std::nullopt;
    if (repeat > 1 && (current.size() != 1 || out->values.size() != 1)) {
      error(src, ptr, "a repeated module must take one input and give one "
                      "output, so that each repeat feeds the next");
      return std::nullopt;
    }
    current.assign(out->values.begin(), out->values.end());
  }
  return out;
}

} // namespace kiln
