//===- JsonSource.cpp - a JSON file with positions ------------------------===//
#include "compiler/Import/JsonSource.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

namespace kiln {

std::string pointerJoin(const std::string &pointer, const std::string &token) {
  std::string out = pointer + "/";
  for (char c : token)
    out += c == '~' ? "~0" : c == '/' ? "~1" : std::string(1, c);
  return out;
}

namespace {

/// Records where each value starts. Runs only on text nlohmann accepted, so it
/// can assume well-formed JSON.
class PositionScanner {
public:
  PositionScanner(const std::string &text,
                  std::unordered_map<std::string, LineCol> &out)
      : text(text), out(out) {}

  /// The first key that appears twice in one object (nlohmann keeps only
  /// the last silently), with both positions.
  std::string duplicate;
  LineCol duplicateAt, firstAt;

  void run() {
    skipSpace();
    value("");
  }

private:
  const std::string &text;
  std::unordered_map<std::string, LineCol> &out;
  size_t i = 0;
  LineCol at;

  void advance() {
    if (text[i] == '\n') {
      ++at.line;
      at.col = 1;
    } else if ((static_cast<unsigned char>(text[i]) & 0xC0) != 0x80) {
      ++at.col; // count UTF-8 code points, not bytes
    }
    ++i;
  }
  void skipSpace() {
    while (i < text.size() && (text[i] == ' ' || text[i] == '\t' ||
                               text[i] == '\n' || text[i] == '\r'))
      advance();
  }
  std::string string() {
    std::string s;
    advance(); // opening quote
    while (text[i] != '"') {
      if (text[i] == '\\') {
        advance();
        // Keys with \u escapes are kept verbatim; they only affect lookup.
        s += text[i] == 'n' ? '\n' : text[i] == 't' ? '\t' : text[i];
      } else {
        s += text[i];
      }
      advance();
    }
    advance(); // closing quote
    return s;
  }
  void value(const std::string &pointer) {
    out.emplace(pointer, at);
    char c = text[i];
    if (c == '{' || c == '[') {
      char close = c == '{' ? '}' : ']';
      advance();
      skipSpace();
      for (size_t index = 0; text[i] != close; ++index) {
        std::string child;
        if (c == '{') {
          LineCol keyAt = at;
          child = pointerJoin(pointer, string());
          skipSpace();
          advance(); // ':'
          skipSpace();
          if (duplicate.empty() && out.count(child)) {
            duplicate = child;
            duplicateAt = keyAt;
            firstAt = out[child];
          }
          value(child);
          out[child] = keyAt;
        } else {
          value(pointerJoin(pointer, std::to_string(index)));
        }
        skipSpace();
        if (text[i] == ',') {
          advance();
          skipSpace();
        }
      }
      advance();
    } else if (c == '"') {
      string();
    } else {
      while (i < text.size() && !strchr(",]} \t\r\n", text[i]))
        advance();
    }
  }
};

/// The offset of the first '[' or '{' nested deeper than `limit`, or npos.
/// Checked before parsing: the position scanner, the schema checks and the
/// importer walk values recursively, and a broken generator's file nested
/// tens of thousands deep would overflow the stack.
size_t tooDeep(const std::string &text, size_t limit) {
  size_t depth = 0;
  bool inString = false;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (inString) {
      if (c == '\\')
        ++i;
      else if (c == '"')
        inString = false;
    } else if (c == '"') {
      inString = true;
    } else if (c == '[' || c == '{') {
      if (++depth > limit)
        return i;
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return std::string::npos;
}

LineCol lineColOfOffset(const std::string &text, size_t offset) {
  LineCol lc;
  for (size_t i = 0; i < offset && i < text.size(); ++i) {
    if (text[i] == '\n') {
      ++lc.line;
      lc.col = 1;
    } else if ((static_cast<unsigned char>(text[i]) & 0xC0) != 0x80) {
      ++lc.col;
    }
  }
  return lc;
}

} // namespace

bool JsonSource::fail(LineCol at, const std::string &message,
                      std::string &error) {
  errorPosition = at;
  errorMessage = message;
  error = path_ + ":" + std::to_string(at.line) + ":" + std::to_string(at.col) +
          ": " + message;
  return false;
}

bool JsonSource::load(const std::string &path, std::string &error) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    path_ = path;
    errorPosition = LineCol();
    errorMessage = std::string("cannot open file: ") + std::strerror(errno);
    error = path + ": " + errorMessage;
    return false;
  }
  std::stringstream buffer;
  buffer << in.rdbuf();
  return loadText(path, buffer.str(), error);
}

bool JsonSource::loadText(const std::string &path, std::string text,
                          std::string &error) {
  path_ = path;
  text_ = std::move(text);
  if (size_t at = tooDeep(text_, kMaxJsonNesting); at != std::string::npos)
    return fail(lineColOfOffset(text_, at),
                "malformed JSON: arrays and objects nested more than " +
                    std::to_string(kMaxJsonNesting) + " deep",
                error);
  try {
    root_ = nlohmann::ordered_json::parse(text_);
  } catch (const nlohmann::ordered_json::parse_error &e) {
    // e.byte is 1-based and points just past the offending character.
    LineCol lc = lineColOfOffset(text_, e.byte ? e.byte - 1 : 0);
    std::string what = e.what();
    // Drop nlohmann's "[json.exception.parse_error.101] parse error at line
    // 1, column 2: " prefix; the position is ours.
    size_t colon = what.find(": ");
    if (colon != std::string::npos)
      what = what.substr(colon + 2);
    return fail(lc, "malformed JSON: " + what, error);
  } catch (const nlohmann::ordered_json::exception &e) {
    // A number out of range (found by kiln-fuzz-importer) comes without a
    // byte offset: find the token it quotes.
    std::string what = e.what();
    size_t bracket = what.find("] "), quote = what.find('\'');
    if (bracket != std::string::npos)
      what = what.substr(bracket + 2);
    LineCol lc;
    if (quote != std::string::npos) {
      std::string token = std::string(e.what()).substr(quote + 1);
      token = token.substr(0, token.find('\''));
      size_t at = token.empty() ? std::string::npos : text_.find(token);
      if (at != std::string::npos)
        lc = lineColOfOffset(text_, at);
    }
    return fail(lc, "malformed JSON: " + what, error);
  }
  positions_.clear();
  PositionScanner scanner(text_, positions_);
  scanner.run();
  if (!scanner.duplicate.empty()) {
    const std::string &d = scanner.duplicate;
    return fail(scanner.duplicateAt,
                d + ": duplicate key '" + d.substr(d.rfind('/') + 1) +
                    "' (first at line " + std::to_string(scanner.firstAt.line) +
                    ")",
                error);
  }
  return true;
}

LineCol JsonSource::position(const std::string &pointer) const {
  std::string p = pointer;
  while (true) {
    auto it = positions_.find(p);
    if (it != positions_.end())
      return it->second;
    if (p.empty())
      return LineCol();
    p = p.substr(0, p.rfind('/'));
  }
}

} // namespace kiln
