//===- ExprTest.cpp - shape/attribute expressions -------------------------===//
#include "compiler/Import/Expr.h"

#include <gtest/gtest.h>
#include <array>
#include <map>

using kiln::evaluateExpr;

namespace {

std::optional<double> eval(const std::string &text, std::string &error) {
  static const std::map<std::string, double> args = {
      {"dim", 64}, {"heads", 4}, {"depth", 4}, {"rate", 0.1}};
  return evaluateExpr(
      text,
      [](const std::string &name,
         std::optional<int64_t> index) -> std::optional<double> {
        if (index) // a tensor x of shape 128x50x64
          return name == "x" && *index >= -3 && *index < 3
                     ? std::optional<double>(std::array<double, 3>{
                           128, 50, 64}[(*index + 3) % 3])
                     : std::nullopt;
        auto it = args.find(name);
        if (it == args.end())
          return std::nullopt;
        return it->second;
      },
      error);
}

TEST(Expr, PrecedenceAndParentheses) {
  std::string error;
  EXPECT_EQ(*eval("dim*3", error), 192);
  EXPECT_EQ(*eval("dim/heads", error), 16);
  EXPECT_EQ(*eval("1 + 2 * 3", error), 7);
  EXPECT_EQ(*eval("(1 + 2) * 3", error), 9);
  EXPECT_EQ(*eval("-dim + 1", error), -63);
  EXPECT_EQ(*eval("7 % 4", error), 3);
  EXPECT_DOUBLE_EQ(*eval("rate*2/(depth-1)", error), 0.2 / 3);
  EXPECT_DOUBLE_EQ(*eval("1e-6", error), 1e-6);
  EXPECT_EQ(*eval("1/sqrt(dim/heads)", error), 0.25);
  EXPECT_EQ(*eval("max(depth-1, 1) + min(2, dim)", error), 5);
  EXPECT_EQ(*eval("x[0]*x[1]", error), 6400);
  EXPECT_EQ(*eval("x[-1]", error), 64);
}

TEST(Expr, ErrorsSayWhereAndWhat) {
  std::string error;
  EXPECT_FALSE(eval("dims*3", error));
  EXPECT_EQ(error, "in expression \"dims*3\" at column 5: unknown name 'dims'");
  EXPECT_FALSE(eval("dim/(heads-4)", error));
  EXPECT_NE(error.find("division by zero"), std::string::npos);
  EXPECT_FALSE(eval("(dim", error));
  EXPECT_NE(error.find("expected ')'"), std::string::npos);
  EXPECT_FALSE(eval("dim 3", error));
  EXPECT_NE(error.find("unexpected '3'"), std::string::npos);
  EXPECT_FALSE(eval("x[3]", error));
  EXPECT_NE(error.find("'x' is not a tensor with a dimension 3"), std::string::npos);
  EXPECT_FALSE(eval("dim[0]", error));
  EXPECT_FALSE(eval("", error));
  EXPECT_NE(error.find("unexpected end"), std::string::npos);
}

} // namespace
