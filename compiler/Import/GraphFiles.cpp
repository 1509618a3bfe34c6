//===- GraphFiles.cpp - the model file, its imports and their modules -----===//
//
// A model file and the library files it imports (recursively, each read
// once, paths relative to the importing file) are checked against their
// schemas; every module they define goes into one table, where a name
// defined twice is an error naming the first definition.
//
//===----------------------------------------------------------------------===//
#include "compiler/Import/GraphImporter.h"
#include "compiler/Import/Importer.h"

#include "mlir/IR/Diagnostics.h"
#include "llvm/ADT/SmallString.h"
#include "llvm/Support/Path.h"

#include <functional>

using namespace mlir;

namespace kiln {

/// The graph format version this importer reads.
static constexpr int64_t kGraphVersion = 1;

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
  // A model imported as a library: say so, not "unknown key 'data'".
  if (library && from && root.is_object() && root.contains("objective")) {
    error(*from, fromPtr, "cannot import " + path +
                              ": it is a model (it has an objective); import library files, "
                              "which hold only modules (models/lib/*.json)");
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

void anchorGraphPaths(nlohmann::ordered_json &graph, const std::string &dir) {
  auto anchor = [&](nlohmann::ordered_json &path) {
    if (!path.is_string() || path.get<std::string>().empty() ||
        llvm::sys::path::is_absolute(path.get<std::string>()))
      return;
    llvm::SmallString<256> full(dir);
    llvm::sys::path::append(full, path.get<std::string>());
    path = std::string(full);
  };
  if (graph.contains("imports") && graph["imports"].is_array())
    for (auto &path : graph["imports"])
      anchor(path);
  // Networks' init_from, and every init spec that reads a file.
  std::function<void(nlohmann::ordered_json &)> walk = [&](nlohmann::ordered_json &j) {
    if (j.is_object()) {
      if (j.contains("init_from"))
        anchor(j["init_from"]);
      if (j.contains("kind") && j["kind"] == "file" && j.contains("path"))
        anchor(j["path"]);
    }
    if (j.is_structured())
      for (auto &child : j)
        walk(child);
  };
  walk(graph);
}

} // namespace kiln
