//===- Expr.h - arithmetic over module arguments -----------------*- C++ -*-===//
//
// Shapes and attributes in a graph may be written as expressions over the
// arguments in scope: "dim*3", "1/sqrt(dim/heads)", "x[0]" (dimension 0 of
// the tensor x). Grammar:
//   expr := term (('+'|'-') term)* ; term := unary (('*'|'/'|'%') unary)*
//   unary := '-' unary | atom
//   atom := number | name | name '[' expr ']' | 'sqrt' '(' expr ')'
//         | ('max' | 'min') '(' expr ',' expr ')' | '(' expr ')'
//
//===----------------------------------------------------------------------===//
#ifndef KILN_IMPORT_EXPR_H
#define KILN_IMPORT_EXPR_H

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

namespace kiln {

/// Looks up `name` (index nullopt) or dimension `index` of the tensor `name`
/// (negative counts from the end); nullopt if there is no such thing.
using ExprScope = std::function<std::optional<double>(
    const std::string &name, std::optional<int64_t> index)>;

/// Evaluates `text`. On failure returns nullopt and sets `error`.
std::optional<double> evaluateExpr(const std::string &text,
                                   const ExprScope &scope, std::string &error);

} // namespace kiln

#endif // KILN_IMPORT_EXPR_H
