//===- Schema.cpp - shape of the JSON graph's objects ---------------------===//
#include "compiler/Import/Schema.h"

#include "llvm/ADT/StringRef.h"

namespace kiln {

using json = nlohmann::ordered_json;

std::string suggest(const std::string &word,
                    const std::vector<std::string> &candidates) {
  std::string best;
  unsigned bestDistance = ~0u;
  for (const std::string &c : candidates) {
    unsigned d = llvm::StringRef(word).edit_distance(c, true, bestDistance);
    if (d < bestDistance) {
      bestDistance = d;
      best = c;
    }
  }
  unsigned limit = std::max<size_t>(2, word.size() / 3);
  if (best.empty() || bestDistance > limit)
    return "";
  return "; did you mean '" + best + "'?";
}

std::string describeJson(const json &value) {
  switch (value.type()) {
  case json::value_t::string:
    return "string \"" + value.get<std::string>() + "\"";
  case json::value_t::boolean:
    return value.get<bool>() ? "true" : "false";
  case json::value_t::number_integer:
  case json::value_t::number_unsigned:
  case json::value_t::number_float:
    return "number " + value.dump();
  case json::value_t::object:
    return "an object";
  case json::value_t::array:
    return "a list";
  case json::value_t::null:
    return "null";
  default:
    return "a " + std::string(value.type_name());
  }
}

namespace {

const char *kindName(FieldKind kind) {
  switch (kind) {
  case FieldKind::Any:
    return "a value";
  case FieldKind::Number:
    return "a number";
  case FieldKind::Int:
    return "an integer";
  case FieldKind::NumberOrExpr:
    return "a number or an expression string";
  case FieldKind::String:
    return "a string";
  case FieldKind::Bool:
    return "true or false";
  case FieldKind::NumberList:
    return "a list of numbers";
  case FieldKind::NumberOrList:
    return "a number or a list of numbers";
  case FieldKind::StringOrList:
    return "a string or a list of strings";
  case FieldKind::Object:
  case FieldKind::ObjectMap:
    return "an object";
  case FieldKind::List:
    return "a list";
  }
  return "a value";
}

bool isInt(const json &v) {
  return v.is_number_integer() ||
         (v.is_number_float() && v.get<double>() == (double)(int64_t)v.get<double>());
}

bool checkField(const JsonSource &src, const std::string &ptr, const json &v,
                const Field &f, const ErrorFn &error) {
  bool ok = true;
  switch (f.kind) {
  case FieldKind::Any:
    break;
  case FieldKind::Number:
    ok = v.is_number();
    break;
  case FieldKind::Int:
    ok = v.is_number() && isInt(v);
    break;
  case FieldKind::NumberOrExpr:
    ok = v.is_number() || v.is_string();
    break;
  case FieldKind::String:
    ok = v.is_string();
    if (ok && !f.choices.empty()) {
      std::string s = v.get<std::string>();
      std::vector<std::string> options(f.choices.begin(), f.choices.end());
      bool found = false;
      std::string list;
      for (const std::string &o : options) {
        found |= o == s;
        list += (list.empty() ? "" : ", ") + o;
      }
      if (!found) {
        error(src, ptr,
              "'" + std::string(f.key) + "' must be one of " + list +
                  ", got \"" + s + "\"" + suggest(s, options));
        return false;
      }
    }
    break;
  case FieldKind::Bool:
    ok = v.is_boolean();
    break;
  case FieldKind::StringOrList:
    ok = v.is_string() || (v.is_array() && !v.empty());
    for (size_t i = 0; ok && v.is_array() && i < v.size(); ++i)
      ok = v[i].is_string();
    break;
  case FieldKind::NumberList:
  case FieldKind::NumberOrList:
    ok = v.is_array() || (f.kind == FieldKind::NumberOrList && v.is_number());
    for (size_t i = 0; ok && v.is_array() && i < v.size(); ++i)
      ok = v[i].is_number();
    break;
  case FieldKind::Object:
    if (!v.is_object())
      break;
    return !f.sub || checkSchema(src, ptr, v, *f.sub, error);
  case FieldKind::ObjectMap:
    if (!v.is_object()) {
      ok = false;
      break;
    }
    for (auto &[name, entry] : v.items())
      if (!checkSchema(src, pointerJoin(ptr, name), entry, *f.sub, error))
        return false;
    return true;
  case FieldKind::List:
    if (!v.is_array()) {
      ok = false;
      break;
    }
    for (size_t i = 0; i < v.size(); ++i)
      if (f.sub && !checkSchema(src, pointerJoin(ptr, std::to_string(i)), v[i],
                                *f.sub, error))
        return false;
    return true;
  }
  if (f.kind == FieldKind::Object && !v.is_object())
    ok = false;
  if (!ok)
    error(src, ptr,
          "'" + std::string(f.key) + "' must be " + kindName(f.kind) + ", got " +
              describeJson(v));
  return ok;
}

} // namespace

bool checkSchema(const JsonSource &src, const std::string &pointer,
                 const json &value, const Schema &schema, const ErrorFn &error) {
  if (!value.is_object()) {
    error(src, pointer,
          std::string(schema.what) + " must be an object, got " +
              describeJson(value));
    return false;
  }
  std::vector<std::string> known;
  for (const Field &f : schema.fields)
    known.push_back(f.key);
  for (auto &[key, v] : value.items()) {
    const std::string &name = key; // a lambda cannot capture a binding before C++20
    auto it = std::find_if(schema.fields.begin(), schema.fields.end(),
                           [&](const Field &f) { return name == f.key; });
    std::string ptr = pointerJoin(pointer, key);
    if (key == "doc") { // any object may carry one
      if (!v.is_string()) {
        error(src, ptr, "'doc' must be a string, got " + describeJson(v));
        return false;
      }
      continue;
    }
    if (it == schema.fields.end()) {
      if (schema.openKeys)
        continue;
      error(src, ptr,
            "unknown key '" + key + "' in " + schema.what + suggest(key, known));
      return false;
    }
    if (!checkField(src, ptr, v, *it, error))
      return false;
  }
  for (const Field &f : schema.fields) {
    if (f.required && !value.contains(f.key)) {
      error(src, pointer,
            std::string(schema.what) + " is missing required key '" + f.key +
                "'");
      return false;
    }
  }
  return true;
}

//===----------------------------------------------------------------------===//
// The schemas. docs/graph-format.md describes each key.
//===----------------------------------------------------------------------===//

namespace schemas {
using K = FieldKind;

static const Schema paramEntry{"parameter",
                               {{"shape", K::List, true},
                                {"init", K::Object, true}}};

const Schema module{"module",
                    {{"args", K::Object},
                     {"inputs", K::List, true},
                     {"params", K::ObjectMap, false, &paramEntry},
                     {"state", K::ObjectMap, false, &stateEntry},
                     {"nodes", K::List, true},
                     {"outputs", K::Object, true},
                     {"state_updates", K::Object}}};

// Nodes carry op-specific attributes, checked against the op itself.
const Schema node{"node",
                  {{"id", K::String, true},
                   {"op", K::String, true},
                   {"in", K::List},
                   {"if", K::NumberOrExpr}},
                  /*openKeys=*/true};

const Schema network{"network",
                     {{"module", K::String, true},
                      {"args", K::Object},
                      {"ema_of", K::String},
                      {"momentum", K::NumberOrExpr},
                      {"frozen", K::Bool},
                      {"init_from", K::String},
                      {"init_prefix", K::String}}};

const Schema stateEntry{"state",
                        {{"shape", K::List, true},
                         {"init", K::Object, true}}};

const Schema objectiveInput{"input",
                            {{"shape", K::List, true},
                             {"dtype", K::String, false, nullptr, {"f32", "i32"}},
                             {"source", K::String}}};

const Schema objective{"objective",
                       {{"inputs", K::ObjectMap, true, &objectiveInput},
                        {"nodes", K::List, true},
                        {"loss", K::String, true},
                        {"metrics", K::Object},
                        {"state_updates", K::Object}}};

static const Schema normalizeSchema{"normalize",
                               {{"mean", K::NumberOrList, true}, {"std", K::NumberOrList, true}}};
static const Schema jitter{"color_jitter",
                           {{"p", K::Number, true},
                            {"brightness", K::Number},
                            {"contrast", K::Number},
                            {"saturation", K::Number},
                            {"hue", K::Number}}};
static const Schema blur{"blur", {{"p", K::Number, true}, {"sigma", K::NumberList}}};
static const Schema probability{"probability", {{"p", K::Number, true}}};
static const Schema noise{"noise", {{"std", K::Number, true}}};
static const Schema view{"view",
                         {{"size", K::NumberOrExpr, true},
                          {"count", K::NumberOrExpr},
                          {"pad", K::NumberOrExpr},
                          {"resize", K::NumberOrExpr},
                          {"crop", K::String, false, nullptr, {"center"}},
                          {"interpolation", K::String, false, nullptr, {"bicubic", "bilinear"}},
                          {"scale", K::NumberList},
                          {"ratio", K::NumberList},
                          {"flip", K::Number},
                          {"color_jitter", K::Object, false, &jitter},
                          {"blur", K::Object, false, &blur},
                          {"grayscale", K::Object, false, &probability},
                          {"solarize", K::Object, false, &probability},
                          {"noise", K::Object, false, &noise}}};
static const Schema source{"source",
                           {{"kind", K::String, false, nullptr,
                             {"idx", "cifar", "image_folder", "shards"}},
                            {"path", K::String, true},
                            {"eval_path", K::String},
                            {"lanes", K::Int},
                            {"shuffle_buffer", K::Int},
                            {"epoch_steps", K::Int},
                            {"cifar_labels", K::String, false, nullptr, {"fine", "coarse"}}}};
const Schema data{"data",
                  {{"dataset", K::String, false, nullptr, {"fashion-mnist"}},
                   {"source", K::Object, false, &source},
                   {"normalize", K::Object, false, &normalizeSchema},
                   {"views", K::ObjectMap, false, &view}}};

static const Schema group{"parameter group",
                          {{"match", K::String, true},
                           {"weight_decay", K::NumberOrExpr},
                           {"lr_scale", K::Number}}};
static const Schema clip{"clip",
                         {{"kind", K::String, true, nullptr,
                           {"global_norm", "per_param"}},
                          {"max_norm", K::Number, true}}};
static const Schema freeze{"freeze",
                           {{"match", K::String, true}, {"epochs", K::Int, true}}};
const Schema optimizer{"optimizer",
                       {{"kind", K::String, true, nullptr, {"sgd", "adamw", "lars"}},
                        {"lr", K::NumberOrExpr, true},
                        {"weight_decay", K::NumberOrExpr},
                        {"betas", K::NumberList},
                        {"eps", K::Number},
                        {"momentum", K::NumberOrExpr},
                        {"nesterov", K::Bool},
                        {"trust_coefficient", K::Number},
                        {"groups", K::List, false, &group},
                        {"clip", K::Object, false, &clip},
                        {"freeze", K::List, false, &freeze}}};

static const Schema eval{"eval",
                         {{"kind", K::String, true, nullptr,
                           {"accuracy", "knn", "linear_probe"}},
                          {"network", K::String},
                          {"output", K::StringOrList},
                          {"reconstruction", K::String},
                          {"linear_probe", K::Bool},
                          {"every_epochs", K::Int},
                          {"view", K::String},
                          {"batch_size", K::Int},
                          {"k", K::Int},
                          {"temperature", K::Number}}};
static const Schema lossScale{"loss_scale",
                              {{"init_scale", K::Number},
                               {"growth_factor", K::Number},
                               {"backoff_factor", K::Number},
                               {"growth_interval", K::Int}}};
const Schema train{"train",
                   {{"epochs", K::Int, true},
                    {"batch_size", K::Int, true},
                    {"seed", K::Int},
                    {"log_every", K::Int},
                    {"precision", K::String},
                    {"recompute", K::String},
                    {"all_reduce_precision", K::String},
                    {"loss_scale", K::Object, false, &lossScale},
                    {"eval", K::Object, false, &eval}}};

const Schema modelFile{"graph",
                       {{"kiln", K::Int, true},
                        {"name", K::String, true},
                        {"imports", K::List},
                        {"args", K::Object},
                        {"data", K::Object, true, &data},
                        {"modules", K::Object},
                        {"networks", K::ObjectMap, true, &network},
                        {"state", K::ObjectMap, false, &stateEntry},
                        {"schedules", K::Object},
                        {"objective", K::Object, true, &objective},
                        {"optimizer", K::Object, true, &optimizer},
                        {"train", K::Object, true, &train}}};

const Schema libraryFile{"library",
                         {{"kiln", K::Int, true},
                          {"name", K::String, true},
                          {"imports", K::List},
                          {"modules", K::Object, true}}};

} // namespace schemas
} // namespace kiln
