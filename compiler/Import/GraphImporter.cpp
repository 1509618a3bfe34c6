//===- GraphImporter.cpp - the import's driver, errors and numbers --------===//
//
// Order of work: load the model file and its imports, each checked against
// its schema (GraphFiles.cpp); then the sections (GraphSections.cpp):
// create inputs/state/schedules, evaluate the objective, which instantiates
// networks and, through them, modules (ModuleInstances.cpp), and attach the
// data/optimizer/train sections to the module as attributes. Here: that
// driver, errors and locations, and the numbers, expressions and shapes
// that every part reads.
//
//===----------------------------------------------------------------------===//
#include "compiler/Import/Importer.h"

#include "Kiln/IR/KilnOps.h"
#include "compiler/Import/Expr.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Diagnostics.h"

#include <cmath>

using namespace mlir;

namespace kiln {

Importer::Importer(MLIRContext &context, const ImportOptions &options)
    : context(context), options(options), body(&context) {}

void Importer::error(const JsonSource &src, const std::string &pointer,
                     const std::string &message) {
  if (failed)
    return;
  failed = true;
  LineCol at = src.position(pointer);
  Location loc = FileLineColLoc::get(&context, src.path(), at.line, at.col);
  emitError(withCallers(loc, src, pointer)) << (pointer.empty() ? "/" : pointer) << ": "
                                            << message;
}

Location Importer::location(const JsonSource &src, const std::string &pointer,
                            const std::string &name) {
  LineCol at = src.position(pointer);
  return withCallers(NameLoc::get(StringAttr::get(&context, name),
                                  FileLineColLoc::get(&context, src.path(), at.line, at.col)),
                     src, pointer);
}

Location Importer::withCallers(Location loc, const JsonSource &src, const std::string &pointer) {
  size_t n = callSites.size();
  // An error at a call node (its arguments, its inputs) is not inside it.
  auto contains = [&](const CallSite &c) {
    return c.src == &src && pointer.compare(0, c.pointer.size(), c.pointer) == 0 &&
           (pointer.size() == c.pointer.size() || pointer[c.pointer.size()] == '/');
  };
  while (n > 0 && contains(callSites[n - 1]))
    --n;
  if (n == 0)
    return loc;
  std::optional<Location> caller;
  for (size_t i = 0; i < n; ++i) {
    const CallSite &c = callSites[i];
    LineCol at = c.src->position(c.pointer);
    Location here = FileLineColLoc::get(&context, c.src->path(), at.line, at.col);
    if (!c.network.empty()) // two calls of one network are told apart
      here = NameLoc::get(StringAttr::get(&context, c.network), here);
    here = NameLoc::get(StringAttr::get(&context, c.module), here);
    caller = caller ? CallSiteLoc::get(here, *caller) : here;
  }
  return CallSiteLoc::get(loc, *caller);
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
