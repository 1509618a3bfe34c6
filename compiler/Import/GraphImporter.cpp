//===- GraphImporter.cpp - files, sections, modules and networks ----------===//
//
// Order of work: load the model file and its imports, check every section
// against its schema, create inputs/state/schedules, evaluate the objective
// (which instantiates networks and, through them, modules), then attach the
// data/optimizer/train sections to the module as attributes.
//
//===----------------------------------------------------------------------===//
#include "compiler/Import/Importer.h"

#include "Kiln/IR/KilnOps.h"
#include "compiler/Import/Expr.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/Verifier.h"
#include "llvm/Support/Path.h"

#include <cmath>

using namespace mlir;

namespace kiln {

/// The graph format version this importer reads.
static constexpr int64_t kGraphVersion = 1;

Importer::Importer(MLIRContext &context, const ImportOptions &options)
    : context(context), options(options), body(&context) {}

void Importer::error(const JsonSource &src, const std::string &pointer,
                     const std::string &message) {
  if (failed)
    return;
  failed = true;
  LineCol at = src.position(pointer);
  Location loc = FileLineColLoc::get(&context, src.path(), at.line, at.col);
  emitError(loc) << (pointer.empty() ? "/" : pointer) << ": " << message;
}

Location Importer::location(const JsonSource &src, const std::string &pointer,
                            const std::string &name) {
  LineCol at = src.position(pointer);
  return NameLoc::get(StringAttr::get(&context, name),
                      FileLineColLoc::get(&context, src.path(), at.line, at.col));
}

//===----------------------------------------------------------------------===//
// Numbers, expressions and shapes
//===----------------------------------------------------------------------===//

std::optional<double> Importer::number(const JsonSource &src,
                                       const std::string &ptr, const json &value,
                                       const Args &args, const Env *env) {
  if (value.is_number())
    return value.get<double>();
  if (!value.is_string()) {
    error(src, ptr, "expected a number or an expression string, got " +
                        describeJson(value));
    return std::nullopt;
  }
  std::string message;
  auto lookup = [&](const std::string &name,
                    std::optional<int64_t> index) -> std::optional<double> {
    if (index) {
      if (!env)
        return std::nullopt;
      auto it = env->bound.find(name);
      if (it == env->bound.end() || it->second.values.size() != 1)
        return std::nullopt;
      auto type = cast<RankedTensorType>(it->second.values[0].getType());
      int64_t i = *index < 0 ? *index + type.getRank() : *index;
      if (i < 0 || i >= type.getRank())
        return std::nullopt;
      return static_cast<double>(type.getDimSize(i));
    }
    auto it = args.find(name);
    if (it != args.end())
      return it->second;
    auto g = globalArgs.find(name);
    if (g != globalArgs.end())
      return g->second;
    return std::nullopt;
  };
  auto v = evaluateExpr(value.get<std::string>(), lookup, message);
  if (!v) {
    std::vector<std::string> names;
    for (auto &[k, _] : args)
      names.push_back(k);
    for (auto &[k, _] : globalArgs)
      names.push_back(k);
    std::string hint;
    size_t q = message.find("unknown name '");
    if (q != std::string::npos) {
      std::string name = message.substr(q + 14);
      hint = suggest(name.substr(0, name.find('\'')), names);
    }
    error(src, ptr, message + hint);
  }
  return v;
}

std::optional<int64_t> Importer::integer(const JsonSource &src,
                                         const std::string &ptr,
                                         const json &value, const Args &args,
                                         const Env *env) {
  auto v = number(src, ptr, value, args, env);
  if (!v)
    return std::nullopt;
  if (*v != std::floor(*v) || std::abs(*v) > 1e15) {
    error(src, ptr, "expected an integer, got " + describeJson(value) +
                        (value.is_string() ? " = " + std::to_string(*v) : ""));
    return std::nullopt;
  }
  return static_cast<int64_t>(*v);
}

std::optional<SmallVector<int64_t>>
Importer::intList(const JsonSource &src, const std::string &ptr,
                  const json &value, const Args &args, const Env *env,
                  bool allowInfer) {
  if (!value.is_array()) {
    error(src, ptr, "expected a list of integers, got " + describeJson(value));
    return std::nullopt;
  }
  SmallVector<int64_t> out;
  for (size_t i = 0; i < value.size(); ++i) {
    std::string p = pointerJoin(ptr, std::to_string(i));
    auto v = integer(src, p, value[i], args, env);
    if (!v)
      return std::nullopt;
    if (*v < 0 && !(allowInfer && *v == -1)) {
      error(src, p, "expected a non-negative integer, got " + std::to_string(*v));
      return std::nullopt;
    }
    out.push_back(*v);
  }
  return out;
}

Attribute jsonToAttr(MLIRContext &context, const json &value) {
  Builder b(&context);
  switch (value.type()) {
  case json::value_t::boolean:
    return b.getBoolAttr(value.get<bool>());
  case json::value_t::number_integer:
  case json::value_t::number_unsigned:
    return b.getI64IntegerAttr(value.get<int64_t>());
  case json::value_t::number_float:
    return b.getF64FloatAttr(value.get<double>());
  case json::value_t::string:
    return b.getStringAttr(value.get<std::string>());
  case json::value_t::array: {
    SmallVector<Attribute> items;
    for (const json &v : value)
      items.push_back(jsonToAttr(context, v));
    return b.getArrayAttr(items);
  }
  case json::value_t::object: {
    SmallVector<NamedAttribute> items;
    for (auto &[k, v] : value.items())
      items.push_back(b.getNamedAttr(k, jsonToAttr(context, v)));
    return b.getDictionaryAttr(items);
  }
  default:
    return b.getUnitAttr();
  }
}

//===----------------------------------------------------------------------===//
// Files and imports
//===----------------------------------------------------------------------===//

bool Importer::loadFile(const std::string &path, const JsonSource *from,
                        const std::string &fromPtr, bool library) {
  for (auto &f : files)
    if (f->path() == path)
      return true; // imported twice: read once
  auto src = std::make_unique<JsonSource>();
  std::string message;
  if (!src->load(path, message)) {
    if (from) {
      error(*from, fromPtr, "cannot import: " + message);
    } else {
      failed = true;
      emitError(FileLineColLoc::get(&context, path, src->errorPosition.line,
                                    src->errorPosition.col))
          << src->errorMessage;
    }
    return false;
  }
  const JsonSource &s = *files.emplace_back(std::move(src));
  const json &root = s.root();
  auto report = [&](const JsonSource &f, const std::string &p,
                    const std::string &m) { error(f, p, m); };
  if (root.is_object() && root.contains("kiln") && root["kiln"].is_number() &&
      root["kiln"] != kGraphVersion) {
    error(s, "/kiln",
          "graph format version " + root["kiln"].dump() +
              " is not supported; this kiln reads version " +
              std::to_string(kGraphVersion));
    return false;
  }
  if (!checkSchema(s, "", root,
                   library ? schemas::libraryFile : schemas::modelFile, report))
    return false;

  if (root.contains("imports")) {
    const json &imports = root["imports"];
    for (size_t i = 0; i < imports.size(); ++i) {
      std::string p = pointerJoin("/imports", std::to_string(i));
      if (!imports[i].is_string()) {
        error(s, p, "an import must be a file path string, got " +
                        describeJson(imports[i]));
        return false;
      }
      std::string target = imports[i].get<std::string>();
      SmallString<256> resolved;
      if (!llvm::sys::path::is_absolute(target))
        resolved = llvm::sys::path::parent_path(path);
      llvm::sys::path::append(resolved, target);
      if (!loadFile(std::string(resolved), &s, p, /*library=*/true))
        return false;
    }
  }
  if (root.contains("modules")) {
    for (auto &[name, def] : root["modules"].items()) {
      std::string p = pointerJoin("/modules", name);
      if (!checkSchema(s, p, def, schemas::module, report))
        return false;
      auto [it, inserted] = modules.try_emplace(name, ModuleDef{&s, p, &def});
      if (!inserted) {
        LineCol first = it->second.src->position(it->second.pointer);
        error(s, p,
              "module '" + name + "' is already defined in " +
                  it->second.src->path() + ":" + std::to_string(first.line));
        return false;
      }
    }
  }
  return true;
}

//===----------------------------------------------------------------------===//
// Parameters
//===----------------------------------------------------------------------===//

DictionaryAttr Importer::initDict(const JsonSource &src, const std::string &ptr,
                                  const json &init, const Args &args) {
  Builder b(&context);
  SmallVector<NamedAttribute> items;
  for (auto &[key, v] : init.items()) {
    std::string p = pointerJoin(ptr, key);
    if (v.is_string() && (key == "kind" || key == "from" || key == "path" ||
                          key == "tensor")) {
      items.push_back(b.getNamedAttr(key, b.getStringAttr(v.get<std::string>())));
    } else if (v.is_boolean()) {
      items.push_back(b.getNamedAttr(key, b.getBoolAttr(v.get<bool>())));
    } else {
      auto n = number(src, p, v, args);
      if (!n)
        return nullptr;
      items.push_back(b.getNamedAttr(key, b.getF64FloatAttr(*n)));
    }
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
  DictionaryAttr init;
  StringAttr emaOf;
  // The name without its network prefix, as exported.
  std::string local = name.substr(network ? network->name.size() + 1 : 0);
  if (network && !network->emaOf.empty()) {
    std::string source = network->emaOf + "." + local;
    emaOf = b.getStringAttr(source);
    init = b.getDictionaryAttr({b.getNamedAttr("kind", b.getStringAttr("copy")),
                                b.getNamedAttr("from", b.getStringAttr(source))});
  } else if (network && !network->initFrom.empty()) {
    init = b.getDictionaryAttr(
        {b.getNamedAttr("kind", b.getStringAttr("file")),
         b.getNamedAttr("path", b.getStringAttr(network->initFrom)),
         b.getNamedAttr("tensor", b.getStringAttr(network->initPrefix + local))});
  } else {
    init = initDict(src, pointerJoin(ptr, "init"), entry["init"], args);
    if (!init)
      return nullptr;
  }
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
  if (std::find(callStack.begin(), callStack.end(), moduleName) !=
      callStack.end()) {
    std::string chain;
    for (auto &m : callStack)
      chain += m + " -> ";
    error(callSrc, callPtr, "module '" + moduleName +
                                "' calls itself: " + chain + moduleName);
    return std::nullopt;
  }
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

  // Parameters.
  if (def.contains("params")) {
    for (auto &[k, entry] : def["params"].items()) {
      std::string p = pointerJoin(pointerJoin(mod.pointer, "params"), k);
      if (env.bound.count(k)) {
        error(src, p, "parameter '" + k + "' has the same name as an input");
        return std::nullopt;
      }
      Value v = createParam(src, p, path + "." + k, entry, env.args, network);
      if (!v)
        return std::nullopt;
      env.bound[k] = Bound{{v}, {}};
    }
  }

  callStack.push_back(moduleName);
  bool ok = evaluateNodes(env);
  callStack.pop_back();
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
        "id", "op", "in", "doc", "if", "module", "network", "args", "repeat"};
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

  if (node.contains("network")) {
    if (!env.path.empty()) {
      error(src, pointerJoin(ptr, "network"),
            "networks are called from the objective, not from a module");
      return std::nullopt;
    }
    if (node.contains("args") || node.contains("repeat")) {
      error(src, ptr, "a network call takes no 'args' or 'repeat'; the "
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
    return instantiate(net["module"].get<std::string>(), top, netPtr,
                       it->first, args, inputs, &it->second);
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
  std::string base = env.path.empty() ? id : env.path + "." + id;
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

//===----------------------------------------------------------------------===//
// Sections
//===----------------------------------------------------------------------===//

bool Importer::importSections(const JsonSource &src, ModuleOp module) {
  const json &root = src.root();
  Builder b(&context);

  // Global arguments and the batch size.
  if (root.contains("args"))
    for (auto &[k, v] : root["args"].items()) {
      auto n = number(src, pointerJoin("/args", k), v, {});
      if (!n)
        return false;
      globalArgs[k] = *n;
    }
  int64_t batch = options.batchSize ? *options.batchSize
                                    : root["train"]["batch_size"].get<int64_t>();
  if (batch < 1) {
    error(src, "/train/batch_size", "the batch size must be at least 1");
    return false;
  }
  if (batch % options.ranks) {
    error(src, "/train/batch_size",
          "the global batch of " + std::to_string(batch) +
              (options.batchSize ? " (--batch-size)" : "") + " does not divide over " +
              std::to_string(options.ranks) + " ranks; give a multiple of " +
              std::to_string(options.ranks));
    return false;
  }
  batch /= options.ranks;
  globalArgs["batch"] = static_cast<double>(batch);
  // 1 in the training step, 0 in the evaluation entry ("if": "rate*training").
  globalArgs["training"] = 1;

  // Networks.
  for (auto &[name, net] : root["networks"].items()) {
    std::string p = pointerJoin("/networks", name);
    NetworkContext ctx{name};
    if (net.contains("ema_of")) {
      ctx.emaOf = net["ema_of"].get<std::string>();
      if (!root["networks"].contains(ctx.emaOf) || ctx.emaOf == name) {
        std::vector<std::string> names;
        for (auto &[k, _] : root["networks"].items())
          if (k != name)
            names.push_back(k);
        error(src, pointerJoin(p, "ema_of"),
              "'ema_of' names no other network: \"" + ctx.emaOf + "\"" +
                  suggest(ctx.emaOf, names));
        return false;
      }
    }
    ctx.frozen = net.value("frozen", false);
    ctx.initFrom = net.value("init_from", "");
    ctx.initPrefix = net.value("init_prefix", "");
    if (!ctx.initFrom.empty() && !ctx.frozen) {
      error(src, pointerJoin(p, "init_from"),
            "'init_from' is for frozen networks (set \"frozen\": true)");
      return false;
    }
    if (!modules.count(net["module"].get<std::string>())) {
      std::vector<std::string> names;
      for (auto &[k, _] : modules)
        names.push_back(k);
      error(src, pointerJoin(p, "module"),
            "unknown module '" + net["module"].get<std::string>() + "'" +
                suggest(net["module"].get<std::string>(), names));
      return false;
    }
    networks[name] = ctx;
  }

  Env env{&src, "/objective/nodes", &root["objective"]["nodes"], {}, "",
          nullptr, {}};
  // Verifies a new source op and binds its name in the objective.
  auto bindOnce = [&](const std::string &p, const std::string &name,
                      Operation *op) -> bool {
    if (mlir::failed(mlir::verify(op))) {
      failed = true;
      return false;
    }
    Value v = op->getResult(0);
    if (env.bound.count(name)) {
      error(src, p, "'" + name +
                        "' is already defined as an input, state or schedule");
      return false;
    }
    env.bound[name] = Bound{{v}, {}};
    return true;
  };

  // Inputs.
  for (auto &[name, in] : root["objective"]["inputs"].items()) {
    std::string p = pointerJoin("/objective/inputs", name);
    auto shape = intList(src, pointerJoin(p, "shape"), in["shape"], {});
    if (!shape)
      return false;
    Type element = in.value("dtype", "f32") == "i32"
                       ? Type(b.getIntegerType(32))
                       : Type(b.getF32Type());
    StringAttr source =
        in.contains("source") ? b.getStringAttr(in["source"].get<std::string>())
                              : nullptr;
    auto op = createSource<InputOp>(location(src, p, name),
                                      RankedTensorType::get(*shape, element),
                                      b.getStringAttr(name), source);
    if (!bindOnce(p, name, op))
      return false;
  }

  // State.
  if (root.contains("state"))
    for (auto &[name, entry] : root["state"].items()) {
      std::string p = pointerJoin("/state", name);
      auto shape = intList(src, pointerJoin(p, "shape"), entry["shape"], {});
      if (!shape)
        return false;
      DictionaryAttr init = initDict(src, pointerJoin(p, "init"), entry["init"], {});
      if (!init)
        return false;
      auto op = createSource<StateOp>(
          location(src, p, name), RankedTensorType::get(*shape, b.getF32Type()),
          b.getStringAttr(name), init);
      if (!bindOnce(p, name, op))
        return false;
    }

  // Schedules.
  if (root.contains("schedules"))
    for (auto &[name, spec] : root["schedules"].items()) {
      std::string p = pointerJoin("/schedules", name);
      if (!spec.is_object()) {
        error(src, p, "a schedule must be an object, got " + describeJson(spec));
        return false;
      }
      DictionaryAttr dict = initDict(src, p, spec, {});
      if (!dict)
        return false;
      auto op = createSource<ScheduleOp>(
          location(src, p, name), RankedTensorType::get({}, b.getF32Type()),
          b.getStringAttr(name), dict);
      if (!bindOnce(p, name, op))
        return false;
    }

  // The objective graph and its sinks.
  if (!evaluateNodes(env))
    return false;
  const json &objective = root["objective"];
  auto sink = [&](const std::string &p, const json &ref) -> std::optional<Value> {
    return resolve(env, p, ref);
  };
  auto loss = sink("/objective/loss", objective["loss"]);
  if (!loss)
    return false;
  if (cast<RankedTensorType>(loss->getType()).getRank() != 0) {
    error(src, "/objective/loss",
          "the loss must be a scalar, got " + typeString(loss->getType()) +
              "; reduce it with 'mean' or 'sum'");
    return false;
  }
  body.create<LossOp>(location(src, "/objective/loss", "loss"), *loss);
  for (const char *section : {"metrics", "state_updates"}) {
    if (!objective.contains(section))
      continue;
    std::string sp = pointerJoin("/objective", section);
    for (auto &[name, ref] : objective[section].items()) {
      std::string p = pointerJoin(sp, name);
      auto v = sink(p, ref);
      if (!v)
        return false;
      Operation *op;
      if (std::string(section) == "metrics") {
        if (cast<RankedTensorType>(v->getType()).getRank() != 0 ||
            !cast<RankedTensorType>(v->getType()).getElementType().isF32()) {
          error(src, p, "a metric must be an f32 scalar, got " +
                            typeString(v->getType()));
          return false;
        }
        op = body.create<MetricOp>(location(src, p, name), b.getStringAttr(name), *v);
      } else {
        op = body.create<UpdateStateOp>(location(src, p, name),
                                        b.getStringAttr(name), *v);
      }
      if (mlir::failed(mlir::verify(op))) {
        failed = true;
        return false;
      }
    }
  }

  // Sections the later phases read, kept verbatim on the module.
  module->setAttr("kiln.name", b.getStringAttr(root["name"].get<std::string>()));
  module->setAttr("kiln.source", b.getStringAttr(src.path()));
  module->setAttr("kiln.batch_size", b.getI64IntegerAttr(batch));
  // Scalars the training-step passes read: a schedule name stays a name,
  // an expression becomes its number.
  json sections = {{"data", root["data"]}, {"networks", root["networks"]},
                   {"optimizer", root["optimizer"]}, {"train", root["train"]}};
  std::vector<std::string> scheduleNames;
  if (root.contains("schedules"))
    for (auto &[k, _] : root["schedules"].items())
      scheduleNames.push_back(k);
  auto scalar = [&](json &value, const std::string &ptr) {
    if (!value.is_string())
      return true;
    std::string text = value.get<std::string>();
    if (std::count(scheduleNames.begin(), scheduleNames.end(), text))
      return true;
    if (!text.empty() && text.find_first_of("+-*/%()[ .0123456789") == std::string::npos &&
        !globalArgs.count(text)) {
      error(src, ptr, "'" + text + "' is neither a schedule nor a number" +
                          suggest(text, scheduleNames));
      return false;
    }
    auto n = number(src, ptr, value, {});
    if (!n)
      return false;
    value = *n;
    return true;
  };
  json &opt = sections["optimizer"];
  for (const char *key : {"lr", "weight_decay", "momentum"})
    if (opt.contains(key) && !scalar(opt[key], pointerJoin("/optimizer", key)))
      return false;
  if (opt.contains("groups"))
    for (size_t i = 0; i < opt["groups"].size(); ++i)
      if (opt["groups"][i].contains("weight_decay") &&
          !scalar(opt["groups"][i]["weight_decay"],
                  "/optimizer/groups/" + std::to_string(i) + "/weight_decay"))
        return false;
  for (auto &[name, net] : sections["networks"].items())
    if (net.contains("momentum") &&
        !scalar(net["momentum"], pointerJoin(pointerJoin("/networks", name), "momentum")))
      return false;
  for (const char *section : {"data", "networks", "optimizer", "train"})
    module->setAttr(std::string("kiln.") + section,
                    jsonToAttr(context, sections[section]));
  return true;
}

bool Importer::importEval(const JsonSource &src, ModuleOp module) {
  const json &root = src.root();
  if (!root["train"].contains("eval") || !root["train"]["eval"].contains("network"))
    return true;
  const json &eval = root["train"]["eval"];
  std::string netName = eval["network"].get<std::string>();
  auto net = networks.find(netName);
  if (net == networks.end()) {
    std::vector<std::string> names;
    for (auto &[k, _] : networks)
      names.push_back(k);
    error(src, "/train/eval/network",
          "unknown network '" + netName + "'" + suggest(netName, names));
    return false;
  }
  // Whole test images: [eval batch, channels, 28, 28] for Fashion-MNIST,
  // channels as the objective's image input has them.
  int64_t channels = 1;
  for (auto &[name, in] : root["objective"]["inputs"].items())
    if (in.value("source", "") != "label" && in["shape"].size() == 4) {
      auto shape = intList(src, pointerJoin("/objective/inputs", name) + "/shape", in["shape"], {});
      if (shape)
        channels = (*shape)[1];
      break;
    }
  int64_t batch = eval.value("batch_size", 500);
  globalArgs["batch"] = static_cast<double>(batch);
  globalArgs["training"] = 0;

  OpBuilder b(&context);
  b.setInsertionPointToEnd(module.getBody());
  Location loc = location(src, "/train/eval", "eval");
  auto func = b.create<func::FuncOp>(loc, "eval", b.getFunctionType({}, {}));
  body.setInsertionPointToEnd(func.addEntryBlock());
  auto ret = body.create<func::ReturnOp>(loc);
  body.setInsertionPoint(ret);
  lastSource = nullptr;
  params.clear(); // parameters are created again in this function
  auto image = createSource<InputOp>(
      loc, RankedTensorType::get({batch, channels, 28, 28}, b.getF32Type()),
      b.getStringAttr("image"), b.getStringAttr("test_image"));
  const json &netJson = root["networks"][netName];
  std::string netPtr = pointerJoin("/networks", netName);
  Args args;
  if (netJson.contains("args"))
    for (auto &[k, v] : netJson["args"].items()) {
      auto n = number(src, pointerJoin(pointerJoin(netPtr, "args"), k), v, {});
      if (!n)
        return false;
      args[k] = *n;
    }
  // The network's parameters as the train step left them: an EMA copy is
  // read here, not updated, so it names no source.
  NetworkContext evalNet = net->second;
  evalNet.emaOf.clear();
  auto out = instantiate(netJson["module"].get<std::string>(), src, netPtr, netName, args,
                         {image.getResult()}, &evalNet);
  if (!out)
    return false;
  // The output to score (`output`), and the image the network reconstructs
  // (`reconstruction`: the runtime reports its MSE against the test image).
  for (const char *key : {"output", "reconstruction"}) {
    std::string wanted = eval.value(key, "");
    if (wanted.empty() && std::string(key) == "reconstruction")
      continue;
    bool found = false;
    for (size_t i = 0; i < out->values.size() && !found; ++i) {
      std::string name = out->names.empty() ? std::to_string(i) : out->names[i];
      found = wanted.empty() ? out->values.size() == 1 : name == wanted;
      if (found)
        body.create<OutputOp>(loc, b.getStringAttr(wanted.empty() ? "output" : wanted),
                              out->values[i]);
    }
    if (!found) {
      error(src, std::string("/train/eval/") + key,
            "network '" + netName + "' has no output '" + wanted + "'" +
                suggest(wanted, out->names));
      return false;
    }
  }
  return true;
}

OwningOpRef<ModuleOp> Importer::run(const std::string &path) {
  if (!loadFile(path, nullptr, "", /*library=*/false))
    return nullptr;
  const JsonSource &src = *files.front();
  Location loc = FileLineColLoc::get(&context, src.path(), 1, 1);
  OwningOpRef<ModuleOp> module = ModuleOp::create(loc);
  OpBuilder b(&context);
  b.setInsertionPointToEnd(module->getBody());
  auto func = b.create<func::FuncOp>(
      location(src, "/objective", "objective"), "objective",
      b.getFunctionType({}, {}));
  Block *block = func.addEntryBlock();
  body.setInsertionPointToEnd(block);
  auto ret = body.create<func::ReturnOp>(loc);
  body.setInsertionPoint(ret);
  if (!importSections(src, *module) || failed || !importEval(src, *module) || failed)
    return nullptr;
  return module;
}

OwningOpRef<ModuleOp> importGraph(MLIRContext &context, const std::string &path,
                                  const ImportOptions &options) {
  context.loadDialect<KilnDialect, func::FuncDialect>();
  return Importer(context, options).run(path);
}

} // namespace kiln
