//===- GraphSections.cpp - the model file's sections ----------------------===//
//
// The top-level sections of a model file: global arguments and the batch
// size, networks, the objective's inputs, state and schedules (source ops),
// the objective graph and its sinks (loss, metrics, state updates), the
// data/networks/optimizer/train sections kept on the module as attributes,
// and the evaluation entry (func.func @eval).
//
//===----------------------------------------------------------------------===//
#include "compiler/Import/Importer.h"

#include "Kiln/IR/KilnDTypes.h"
#include "Kiln/IR/KilnOps.h"
#include "Kiln/IR/KilnParamPattern.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Verifier.h"

#include <cstring>
#include <filesystem>

using namespace mlir;

namespace kiln {

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

bool Importer::importSections(const JsonSource &src, ModuleOp module) {
  const json &root = src.root();
  Builder b(&context);

  // Global arguments and the batch size.
  if (root.contains("args"))
    for (auto &[k, v] : root["args"].items()) {
      graphArgNames.insert(k);
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
  if (!checkPrecision(src))
    return false;
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

  // Views: their sizes and counts may be expressions over the global
  // arguments ("count": "n_local"); the runtime reads their numbers.
  data = root["data"];
  if (data.contains("views"))
    for (auto &[name, view] : data["views"].items())
      for (const char *key : {"size", "count", "pad", "resize"})
        if (view.contains(key)) {
          auto n = integer(src, pointerJoin(pointerJoin("/data/views", name), key), view[key], {});
          if (!n)
            return false;
          view[key] = *n;
        }

  // Inputs.
  for (auto &[name, in] : root["objective"]["inputs"].items()) {
    std::string p = pointerJoin("/objective/inputs", name);
    auto shape = intList(src, pointerJoin(p, "shape"), in["shape"], {});
    if (!shape || !checkInputSource(src, p, name, in, *shape))
      return false;
    // The schema admits "f32" and "i32" (Schema.cpp).
    Type element = mlirElementType(*dtypeNamed(in.value("dtype", "f32")), b.getContext());
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
      DictionaryAttr init =
          kindDict(src, pointerJoin(p, "init"), entry["init"], {}, kInitKinds, "init");
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
      DictionaryAttr dict = kindDict(src, p, spec, {}, kScheduleKinds, "schedule");
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
  body.create<LossOp>(location(src, "/objective/loss", "loss"), *loss, /*scale=*/Value());
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

  if (!emitModuleStateUpdates() || !checkParamPatterns(src))
    return false;

  // Sections the later phases read, kept verbatim on the module.
  module->setAttr("kiln.name", b.getStringAttr(root["name"].get<std::string>()));
  module->setAttr("kiln.source", b.getStringAttr(src.path()));
  module->setAttr("kiln.batch_size", b.getI64IntegerAttr(batch));
  module->setAttr("kiln.ranks", b.getI64IntegerAttr(options.ranks));
  if (!checkpointed.empty()) {
    SmallVector<Attribute> paths;
    for (const std::string &p : checkpointed)
      paths.push_back(b.getStringAttr(p));
    module->setAttr("kiln.checkpoint", b.getArrayAttr(paths));
  }
  // Scalars the training-step passes read: a schedule name stays a name,
  // an expression becomes its number.
  json sections = {{"data", data}, {"networks", root["networks"]},
                   {"optimizer", root["optimizer"]}, {"train", root["train"]}};
  // kiln train reads a frozen network's init_from (NetworkFiles.h), from
  // wherever it runs, and names this place when the file is missing.
  std::filesystem::path graph = std::filesystem::absolute(src.path()).lexically_normal();
  for (auto &[name, net] : sections["networks"].items())
    if (net.contains("init_from")) {
      std::filesystem::path file = net["init_from"].get<std::string>();
      net["init_from"] = (graph.parent_path() / file).lexically_normal().string();
      LineCol at = src.position(pointerJoin(pointerJoin("/networks", name), "init_from"));
      net["init_from_at"] = {{"graph", graph.string()}, {"line", at.line}, {"col", at.col}};
    }
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

bool Importer::checkPrecision(const JsonSource &src) {
  const json &train = src.root()["train"];
  std::string p = train.value("precision", "f32");
  if (!precisionNamed(p)) {
    error(src, "/train/precision",
          "the precision must be \"f32\", \"bf16\" or \"fp16\", not \"" + p + "\"");
    return false;
  }
  std::string r = train.value("recompute", "none");
  if (r != "none" && r != "auto") {
    error(src, "/train/recompute",
          "recompute must be \"none\" or \"auto\", not \"" + r + "\"");
    return false;
  }
  std::string a = train.value("all_reduce_precision", "f32");
  if (a != "f32" && a != "bf16") {
    error(src, "/train/all_reduce_precision",
          "all_reduce_precision must be \"f32\" or \"bf16\", not \"" + a + "\"");
    return false;
  }
  if (!train.contains("loss_scale"))
    return true;
  if (p != "fp16") {
    error(src, "/train/loss_scale",
          "loss scaling is for precision \"fp16\"; " + p + " has f32's range and needs none");
    return false;
  }
  const json &s = train["loss_scale"];
  struct Rule {
    const char *key;
    bool (*ok)(double);
    const char *must;
  };
  for (const Rule &r : {Rule{"init_scale", [](double v) { return v > 0 && v <= 3.4e38; },
                             "a positive f32"},
                        Rule{"growth_factor", [](double v) { return v > 1; }, "above 1"},
                        Rule{"backoff_factor", [](double v) { return v > 0 && v < 1; },
                             "between 0 and 1"},
                        Rule{"growth_interval", [](double v) { return v >= 1; }, "at least 1"}})
    if (s.contains(r.key) && !r.ok(s[r.key].get<double>())) {
      error(src, std::string("/train/loss_scale/") + r.key,
            std::string(r.key) + " must be " + r.must);
      return false;
    }
  return true;
}

bool Importer::checkParamPatterns(const JsonSource &src) {
  const json &opt = src.root()["optimizer"];
  // Trained: not of a frozen network nor of an EMA copy.
  std::vector<std::pair<std::string, int64_t>> trained;
  for (auto &[name, value] : params) {
    const NetworkContext &net = networks[name.substr(0, name.find('.'))];
    if (!net.frozen && net.emaOf.empty())
      trained.push_back({name, cast<RankedTensorType>(value.getType()).getRank()});
  }
  for (const char *section : {"groups", "freeze"}) {
    if (!opt.contains(section))
      continue;
    for (size_t i = 0; i < opt[section].size(); ++i) {
      std::string pattern = opt[section][i]["match"].get<std::string>();
      bool used = false;
      for (auto &[name, rank] : trained)
        used |= matchesParamPattern(pattern, name, rank);
      if (used)
        continue;
      // The names nearest the pattern's literal part.
      std::string literal;
      for (char c : pattern)
        if (!strchr("*?[]", c))
          literal += c;
      std::vector<std::pair<unsigned, std::string>> near;
      for (auto &[name, rank] : trained)
        near.push_back({StringRef(name).edit_distance(literal), name});
      std::sort(near.begin(), near.end());
      std::string list;
      for (size_t j = 0; j < near.size() && j < 3; ++j)
        list += (j ? "', '" : "'") + near[j].second;
      error(src, "/optimizer/" + std::string(section) + "/" + std::to_string(i) + "/match",
            "'" + pattern + "' matches no trained parameter" +
                (list.empty() ? " (the model trains none)"
                              : "; the nearest names are " + list + "'"));
      return false;
    }
  }
  return true;
}

/// "[512, 1, 12, 12]".
static std::string dims(ArrayRef<int64_t> shape) {
  std::string s;
  for (int64_t d : shape)
    s += (s.empty() ? "" : ", ") + std::to_string(d);
  return "[" + s + "]";
}

bool Importer::checkInputSource(const JsonSource &src, const std::string &p,
                                const std::string &name, const json &in,
                                ArrayRef<int64_t> shape) {
  std::string source = in.value("source", "");
  int64_t batch = static_cast<int64_t>(globalArgs["batch"]);
  if (source.empty() || source == "random")
    return true;
  if (source == "label") {
    if (shape.size() != 1 || shape[0] != batch || in.value("dtype", "f32") != "i32") {
      error(src, p, "input '" + name + "' reads the labels: give it \"shape\": [\"batch\"] and "
                    "\"dtype\": \"i32\" (it is " + dims(shape) + " " + in.value("dtype", "f32") + ")");
      return false;
    }
    return true;
  }
  const json &views = data.value("views", json::object());
  if (!views.contains(source)) {
    std::vector<std::string> names = {"label"};
    for (auto &[k, _] : views.items())
      names.push_back(k);
    error(src, pointerJoin(p, "source"),
          "the data section has no view '" + source + "'" + suggest(source, names) +
              " (a source is a view of data.views, \"label\" or \"random\")");
    return false;
  }
  const json &view = views[source];
  int64_t count = view.value("count", 1), size = view["size"].get<int64_t>();
  if (shape.size() != 4 || shape[0] != count * batch || (shape[1] != 1 && shape[1] != 3) ||
      shape[2] != size || shape[3] != size) {
    error(src, pointerJoin(p, "shape"),
          "input '" + name + "' is " + dims(shape) + " but view '" + source + "' makes [" +
              std::to_string(count * batch) + ", 1 or 3, " + std::to_string(size) + ", " +
              std::to_string(size) + "]: " + std::to_string(count) + " cop" +
              (count == 1 ? "y" : "ies") + " × batch " + std::to_string(batch) +
              ", channels, size × size" +
              (!shape.empty() && shape[0] != count * batch
                   ? " (name the count once, as an argument both use: \"count\": \"n_local\" "
                     "in the view, \"n_local*batch\" here)"
                   : ""));
    return false;
  }
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
  // [eval batch, channels, size, size]: channels as the objective's first
  // image input has them; the size of the view train.eval.view names, else
  // that input's (whole images).
  int64_t channels = 1, size = 28;
  for (auto &[name, in] : root["objective"]["inputs"].items())
    if (in.value("source", "") != "label" && in["shape"].size() == 4) {
      auto shape = intList(src, pointerJoin("/objective/inputs", name) + "/shape", in["shape"], {});
      if (!shape)
        return false;
      channels = (*shape)[1];
      size = (*shape)[2];
      break;
    }
  if (eval.contains("view")) {
    std::string view = eval["view"].get<std::string>();
    const json &views = data.value("views", json::object());
    if (!views.contains(view)) {
      std::vector<std::string> names;
      for (auto &[k, _] : views.items())
        names.push_back(k);
      error(src, "/train/eval/view", "the data section has no view '" + view + "'" + suggest(view, names));
      return false;
    }
    size = views[view]["size"].get<int64_t>();
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
  params.clear(); // parameters and module state are created again in this function
  moduleState.clear();
  updatesModuleState = false;
  auto image = createSource<InputOp>(
      loc, RankedTensorType::get({batch, channels, size, size}, b.getF32Type()),
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
  // The outputs to score (`output`: one name, or several heads), and the
  // image the network reconstructs (`reconstruction`: the runtime reports
  // its MSE against the evaluation view).
  std::vector<std::pair<std::string, std::string>> wanted; // (JSON key, output name)
  if (eval.contains("output") && eval["output"].is_array())
    for (size_t i = 0; i < eval["output"].size(); ++i)
      wanted.push_back({"output/" + std::to_string(i), eval["output"][i].get<std::string>()});
  else
    wanted.push_back({"output", eval.value("output", "")});
  if (eval.contains("reconstruction"))
    wanted.push_back({"reconstruction", eval["reconstruction"].get<std::string>()});
  for (const auto &[key, name] : wanted) {
    bool found = false;
    for (size_t i = 0; i < out->values.size() && !found; ++i) {
      std::string have = out->names.empty() ? std::to_string(i) : out->names[i];
      found = name.empty() ? out->values.size() == 1 : have == name;
      if (found)
        body.create<OutputOp>(loc, b.getStringAttr(name.empty() ? "output" : name), out->values[i]);
    }
    if (!found) {
      error(src, "/train/eval/" + key,
            "network '" + netName + "' has no output '" + name + "'" + suggest(name, out->names));
      return false;
    }
  }
  return true;
}

} // namespace kiln
