//===- JsonSource.h - a JSON file with positions -----------------*- C++ -*-===//
//
// nlohmann/json parses the text but does not say where a value starts, so a
// second, tiny scanner over the same (already validated) text records the
// line:col of every value under its JSON pointer. Errors anywhere in the
// importer can then point at the exact place in the file.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_IMPORT_JSONSOURCE_H
#define KILN_IMPORT_JSONSOURCE_H

#include <nlohmann/json.hpp>
#include <string>
#include <unordered_map>

namespace kiln {

/// How deep arrays and objects may nest in a graph file (shipped graphs
/// nest at most 8 deep).
constexpr size_t kMaxJsonNesting = 256;

struct LineCol {
  unsigned line = 1, col = 1;
};

class JsonSource {
public:
  /// Reads and parses `path`. On failure returns false and sets `error` to
  /// "path:line:col: message".
  bool load(const std::string &path, std::string &error);
  /// Parses `text` as if read from `path` (for tests).
  bool loadText(const std::string &path, std::string text, std::string &error);

  /// After a failed load: where the problem is (1:1 when the file could not
  /// be read) and what it is, without the "path:line:col: " prefix.
  LineCol errorPosition;
  std::string errorMessage;

  const std::string &path() const { return path_; }
  const nlohmann::ordered_json &root() const { return root_; }
  /// Where the value at `pointer` (e.g. "/modules/vit/nodes/3") starts; for
  /// an object member, where its key starts. Falls back to the nearest
  /// enclosing value.
  LineCol position(const std::string &pointer) const;

private:
  bool fail(LineCol at, const std::string &message, std::string &error);

  std::string path_, text_;
  nlohmann::ordered_json root_;
  std::unordered_map<std::string, LineCol> positions_;
};

/// Appends `token` to a JSON pointer, escaping '~' and '/'.
std::string pointerJoin(const std::string &pointer, const std::string &token);

} // namespace kiln

#endif // KILN_IMPORT_JSONSOURCE_H
