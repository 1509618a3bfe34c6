//===- Expr.cpp - arithmetic over module arguments ------------------------===//
#include "compiler/Import/Expr.h"

#include <cctype>
#include <cmath>
#include <cstdlib>

namespace kiln {
namespace {

/// Recursive descent; the first error wins and stops evaluation.
class Parser {
public:
  Parser(const std::string &text, const ExprScope &scope, std::string &error)
      : text(text), scope(scope), error(error) {}

  std::optional<double> parse() {
    double v = expr();
    skip();
    if (error.empty() && pos != text.size())
      fail("unexpected '" + text.substr(pos, 1) + "'");
    if (!error.empty())
      return std::nullopt;
    return v;
  }

private:
  const std::string &text;
  const ExprScope &scope;
  std::string &error;
  size_t pos = 0;

  void fail(const std::string &msg) {
    if (error.empty())
      error = "in expression \"" + text + "\" at column " +
              std::to_string(pos + 1) + ": " + msg;
  }
  void skip() {
    while (pos < text.size() && std::isspace((unsigned char)text[pos]))
      ++pos;
  }
  bool eat(char c) {
    skip();
    if (pos < text.size() && text[pos] == c) {
      ++pos;
      return true;
    }
    return false;
  }
  double expr() {
    double v = term();
    while (error.empty()) {
      if (eat('+'))
        v += term();
      else if (eat('-'))
        v -= term();
      else
        break;
    }
    return v;
  }
  double term() {
    double v = unary();
    while (error.empty()) {
      if (eat('*')) {
        v *= unary();
      } else if (eat('/') || eat('%')) {
        bool mod = text[pos - 1] == '%';
        double d = unary();
        if (d == 0) {
          fail("division by zero");
          return 0;
        }
        v = mod ? std::fmod(v, d) : v / d;
      } else {
        break;
      }
    }
    return v;
  }
  double unary() {
    if (eat('-'))
      return -unary();
    return atom();
  }
  double atom() {
    skip();
    if (eat('(')) {
      double v = expr();
      if (!eat(')'))
        fail("expected ')'");
      return v;
    }
    if (pos < text.size() &&
        (std::isdigit((unsigned char)text[pos]) || text[pos] == '.')) {
      const char *start = text.c_str() + pos;
      char *end = nullptr;
      double v = std::strtod(start, &end);
      pos += end - start;
      return v;
    }
    size_t begin = pos;
    while (pos < text.size() &&
           (std::isalnum((unsigned char)text[pos]) || text[pos] == '_'))
      ++pos;
    if (begin == pos) {
      fail(pos < text.size() ? "unexpected '" + text.substr(pos, 1) + "'"
                             : "unexpected end");
      return 0;
    }
    std::string name = text.substr(begin, pos - begin);
    if (name == "sqrt" && eat('(')) {
      double v = expr();
      if (!eat(')'))
        fail("expected ')'");
      if (v < 0)
        fail("sqrt of a negative number");
      return std::sqrt(v);
    }
    if ((name == "max" || name == "min") && eat('(')) {
      double a = expr();
      if (!eat(','))
        fail("expected ','");
      double b = expr();
      if (!eat(')'))
        fail("expected ')'");
      return name == "max" ? std::max(a, b) : std::min(a, b);
    }
    std::optional<int64_t> index;
    if (eat('[')) {
      index = static_cast<int64_t>(expr());
      if (!eat(']'))
        fail("expected ']'");
      if (!error.empty())
        return 0;
    }
    if (auto v = scope(name, index))
      return *v;
    fail(index ? "'" + name + "' is not a tensor with a dimension " +
                     std::to_string(*index)
               : "unknown name '" + name + "'");
    return 0;
  }
};

} // namespace

std::optional<double> evaluateExpr(const std::string &text,
                                   const ExprScope &scope, std::string &error) {
  error.clear();
  return Parser(text, scope, error).parse();
}

} // namespace kiln
