//===- Schema.h - shape of the JSON graph's objects --------------*- C++ -*-===//
//
// Every object in a graph is checked against a schema before it is used:
// unknown keys (with the nearest known key suggested), missing keys and
// wrongly typed values are reported with the JSON pointer and line:col.
// The schemas themselves are in Schema.cpp; docs/graph-format.md mirrors them.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_IMPORT_SCHEMA_H
#define KILN_IMPORT_SCHEMA_H

#include "compiler/Import/JsonSource.h"

#include <functional>
#include <string>
#include <vector>

namespace kiln {

/// Reports one error at a place in a file; the importer stops at the first.
using ErrorFn = std::function<void(const JsonSource &, const std::string &pointer,
                                   const std::string &message)>;

enum class FieldKind {
  Any,          // checked by whoever uses it
  Number,       // a JSON number
  Int,          // an integral JSON number
  NumberOrExpr, // a number or an expression string over args
  String,
  Bool,
  NumberList,
  NumberOrList, // a number, or a list of numbers
  StringOrList, // a string, or a list of strings
  Object,       // with `sub` as its schema
  ObjectMap,    // name -> object with `sub` as schema
  List,         // list of objects with `sub` as schema
};

struct Schema;
struct Field {
  const char *key;
  FieldKind kind;
  bool required = false;
  const Schema *sub = nullptr;
  std::vector<const char *> choices = {}; // for String
};
struct Schema {
  const char *what; // "module", "optimizer", ... for messages
  std::vector<Field> fields;
  bool openKeys = false; // extra keys allowed (checked elsewhere)
};

/// The schemas of a graph's sections.
namespace schemas {
extern const Schema modelFile, libraryFile, module, node, network, stateEntry,
    objective, objectiveInput, data, optimizer, train;
} // namespace schemas

/// Checks `value` (at `pointer` in `src`) against `schema`, recursively.
bool checkSchema(const JsonSource &src, const std::string &pointer,
                 const nlohmann::ordered_json &value, const Schema &schema,
                 const ErrorFn &error);

/// "; did you mean 'x'?" when a candidate is close to `word`, else "".
std::string suggest(const std::string &word,
                    const std::vector<std::string> &candidates);

/// "string \"abc\"", "number 3", "object", ... for messages.
std::string describeJson(const nlohmann::ordered_json &value);

} // namespace kiln

#endif // KILN_IMPORT_SCHEMA_H
