//===- BraceExpand.cpp - shard patterns such as train-{000000..000127}.tar ===//
//
// Follows braceexpand 0.1.7 (src/braceexpand/__init__.py): a pattern is the
// cartesian product of its literals and top-level groups; a group is an
// integer range, a letter range, a comma list of patterns, or else literal
// braces around a pattern. Balance is checked once up front, so the
// recursive expansion works on substrings known to be balanced. One
// difference: a stray '}' is always an error, whereas Python accepts one
// that a later '{' happens to cancel (as in "}{").
//
//===----------------------------------------------------------------------===//
#include "runtime/data/BraceExpand.h"

#include <algorithm>
#include <cstdint>
#include <string_view>

namespace kiln::data {

namespace {

using Names = std::vector<std::string>;

constexpr size_t kMaxNames = 10'000'000;
// braceexpand's letter range runs through this alphabet, so {Z..a} is "Z", "a".
constexpr std::string_view kAlphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

bool isDigits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return c >= '0' && c <= '9';
  });
}

/// The regex `-?\d+`.
bool isInteger(std::string_view s) {
  return isDigits(s.substr(!s.empty() && s[0] == '-'));
}

/// A literal with its escapes removed (a trailing lone `\` stays).
std::string unescape(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i)
    out += s[i] == '\\' && i + 1 < s.size() ? s[++i] : s[i];
  return out;
}

/// The pieces of "a..b" or "a..b..c"; the caller checks a and b.
struct RangeParts {
  std::string_view left, right;
  uint64_t step = 1;
};

/// `a..b(..-?\d+)?`, where a step of 0 means 1 as in `int(incr) or 1`; a
/// step that overflows saturates, which still yields just the first value.
bool splitRange(std::string_view expr, RangeParts &parts) {
  size_t first = expr.find("..");
  if (first == std::string_view::npos)
    return false;
  parts.left = expr.substr(0, first);
  parts.right = expr.substr(first + 2);
  parts.step = 1;
  size_t second = parts.right.find("..");
  if (second == std::string_view::npos)
    return true;
  std::string_view step = parts.right.substr(second + 2);
  parts.right = parts.right.substr(0, second);
  if (!isInteger(step))
    return false;
  uint64_t value = 0;
  for (char c : step.substr(step[0] == '-')) {
    uint64_t digit = uint64_t(c - '0');
    value = value > (UINT64_MAX - digit) / 10 ? UINT64_MAX : value * 10 + digit;
  }
  parts.step = value == 0 ? 1 : value;
  return true;
}

bool parseInt64(std::string_view s, int64_t &value) {
  bool negative = s[0] == '-';
  uint64_t magnitude = 0, limit = negative ? uint64_t(INT64_MAX) + 1 : INT64_MAX;
  for (char c : s.substr(negative)) {
    uint64_t digit = uint64_t(c - '0');
    if (magnitude > (limit - digit) / 10)
      return false;
    magnitude = magnitude * 10 + digit;
  }
  value = negative ? int64_t(0 - magnitude) : int64_t(magnitude);
  return true;
}

/// braceexpand pads when an endpoint other than "0" / "-0" starts with a zero.
bool asksForPadding(std::string_view s) {
  return s != "0" && s != "-0" && (s.substr(0, 1) == "0" || s.substr(0, 2) == "-0");
}

/// Python's "%0*d": zeros between the sign and the digits up to `width`.
std::string zeroPadded(int64_t v, size_t width) {
  std::string sign = v < 0 ? "-" : "";
  std::string digits = std::to_string(v < 0 ? 0 - uint64_t(v) : uint64_t(v));
  size_t used = sign.size() + digits.size();
  return sign + std::string(width > used ? width - used : 0, '0') + digits;
}

enum class Match { No, Yes, Error };

class Expander {
public:
  Expander(std::string_view whole, std::string &error) : whole(whole), error(error) {}

  bool checkBalanced();
  bool expandPattern(std::string_view pattern, Names &out);

private:
  bool expandGroup(std::string_view expr, Names &out);
  Match expandIntRange(std::string_view expr, Names &out);
  Match expandLetterRange(std::string_view expr, Names &out);
  Match expandList(std::string_view expr, Names &out);
  bool product(Names &names, const Names &part, std::string_view where);
  bool endpoint(std::string_view text, int64_t &value);
  bool tooMany(uint64_t count, std::string_view where);
  bool fail(std::string_view where, const std::string &what);

  std::string_view whole;
  std::string &error;
};

/// An error at the column where `where` starts (it views into `whole`).
bool Expander::fail(std::string_view where, const std::string &what) {
  error = "pattern \"" + std::string(whole) + "\": column " +
          std::to_string(where.data() - whole.data() + 1) + ": " + what;
  return false;
}

bool Expander::tooMany(uint64_t count, std::string_view where) {
  return count > kMaxNames &&
         !fail(where, "expands to more than " + std::to_string(kMaxNames) + " names");
}

bool Expander::endpoint(std::string_view text, int64_t &value) {
  return parseInt64(text, value) ||
         fail(text, "range endpoint " + std::string(text) + " does not fit in 64 bits");
}

bool Expander::checkBalanced() {
  std::vector<size_t> open;
  for (size_t i = 0; i < whole.size(); ++i) {
    if (whole[i] == '\\')
      ++i;
    else if (whole[i] == '{')
      open.push_back(i);
    else if (whole[i] == '}' && open.empty())
      return fail(whole.substr(i), "'}' without a matching '{'");
    else if (whole[i] == '}')
      open.pop_back();
  }
  return open.empty() || fail(whole.substr(open.back()), "'{' is never closed");
}

/// names := names × part, in the order of itertools.product.
bool Expander::product(Names &names, const Names &part, std::string_view where) {
  if (tooMany(uint64_t(names.size()) * part.size(), where))
    return false;
  Names result;
  result.reserve(names.size() * part.size());
  for (const std::string &prefix : names)
    for (const std::string &suffix : part)
      result.push_back(prefix + suffix);
  names.swap(result);
  return true;
}

bool Expander::expandPattern(std::string_view pattern, Names &out) {
  out.assign(1, "");
  auto appendLiteral = [&](std::string_view literal) {
    std::string text = unescape(literal);
    for (std::string &name : out)
      name += text;
  };
  size_t start = 0, open = 0, depth = 0;
  for (size_t i = 0; i < pattern.size(); ++i) {
    if (pattern[i] == '\\') {
      ++i;
    } else if (pattern[i] == '{' && depth++ == 0) {
      appendLiteral(pattern.substr(start, i - start));
      open = i;
    } else if (pattern[i] == '}' && --depth == 0) {
      Names part;
      std::string_view group = pattern.substr(open, i + 1 - open);
      if (!expandGroup(group.substr(1, group.size() - 2), part) ||
          !product(out, part, group))
        return false;
      start = i + 1;
    }
  }
  appendLiteral(pattern.substr(start));
  return true;
}

bool Expander::expandGroup(std::string_view expr, Names &out) {
  Match match = expandIntRange(expr, out);
  if (match == Match::No)
    match = expandLetterRange(expr, out);
  if (match == Match::No)
    match = expandList(expr, out);
  if (match != Match::No)
    return match == Match::Yes;
  // Neither a range nor a list: the braces are literal, the inside expands.
  if (!expandPattern(expr, out))
    return false;
  for (std::string &name : out)
    name = "{" + name + "}";
  return true;
}

Match Expander::expandIntRange(std::string_view expr, Names &out) {
  RangeParts parts;
  if (!splitRange(expr, parts) || !isInteger(parts.left) || !isInteger(parts.right))
    return Match::No;
  int64_t a, b;
  if (!endpoint(parts.left, a) || !endpoint(parts.right, b))
    return Match::Error;
  size_t width = asksForPadding(parts.left) || asksForPadding(parts.right)
                     ? std::max(parts.left.size(), parts.right.size())
                     : 0;
  bool up = a <= b;
  uint64_t steps = (up ? uint64_t(b) - uint64_t(a) : uint64_t(a) - uint64_t(b)) / parts.step;
  if (tooMany(std::min<uint64_t>(steps, kMaxNames) + 1, expr)) // no wrap at 2^64
    return Match::Error;
  out.clear();
  for (uint64_t i = 0; i <= steps; ++i) {
    // Unsigned arithmetic wraps around onto the in-range value.
    int64_t v = int64_t(up ? uint64_t(a) + i * parts.step : uint64_t(a) - i * parts.step);
    out.push_back(zeroPadded(v, width));
  }
  return Match::Yes;
}

Match Expander::expandLetterRange(std::string_view expr, Names &out) {
  RangeParts parts;
  if (!splitRange(expr, parts) || parts.left.size() != 1 || parts.right.size() != 1)
    return Match::No;
  size_t a = kAlphabet.find(parts.left[0]), b = kAlphabet.find(parts.right[0]);
  if (a == std::string_view::npos || b == std::string_view::npos)
    return Match::No;
  bool up = a <= b;
  uint64_t steps = (up ? b - a : a - b) / parts.step;
  out.clear();
  for (uint64_t i = 0; i <= steps; ++i)
    out.push_back(std::string(1, kAlphabet[up ? a + i * parts.step : a - i * parts.step]));
  return Match::Yes;
}

/// A list needs a comma outside nested braces; each item is a pattern.
Match Expander::expandList(std::string_view expr, Names &out) {
  std::vector<std::string_view> items;
  size_t start = 0, depth = 0;
  for (size_t i = 0; i < expr.size(); ++i) {
    if (expr[i] == '\\') {
      ++i;
    } else if (expr[i] == '{') {
      ++depth;
    } else if (expr[i] == '}') {
      --depth;
    } else if (expr[i] == ',' && depth == 0) {
      items.push_back(expr.substr(start, i - start));
      start = i + 1;
    }
  }
  if (items.empty())
    return Match::No;
  items.push_back(expr.substr(start));
  out.clear();
  for (std::string_view item : items) {
    Names names;
    if (!expandPattern(item, names) || tooMany(out.size() + names.size(), item))
      return Match::Error;
    out.insert(out.end(), names.begin(), names.end());
  }
  return Match::Yes;
}

} // namespace

bool braceExpand(const std::string &pattern, std::vector<std::string> &out,
                 std::string &error) {
  Expander expander(pattern, error);
  return expander.checkBalanced() && expander.expandPattern(pattern, out);
}

} // namespace kiln::data
