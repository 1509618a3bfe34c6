//===- JsonSourceTest.cpp - JSON positions --------------------------------===//
#include "compiler/Import/JsonSource.h"

#include <gtest/gtest.h>

using kiln::JsonSource;

namespace {

TEST(JsonSource, PositionsOfKeysAndListItems) {
  JsonSource src;
  std::string error;
  ASSERT_TRUE(src.loadText("g.json",
                           "{\n"
                           "  \"modules\": {\n"
                           "    \"vit\": {\"nodes\": [\n"
                           "      {\"id\": \"a\"},\n"
                           "      {\"id\": \"b/c~\", \"in\": [\"é\", 2]}\n"
                           "    ]}\n"
                           "  }\n"
                           "}\n",
                           error))
      << error;
  auto at = [&](const std::string &p) {
    auto lc = src.position(p);
    return std::to_string(lc.line) + ":" + std::to_string(lc.col);
  };
  EXPECT_EQ(at(""), "1:1");
  EXPECT_EQ(at("/modules"), "2:3");            // a member is where its key is
  EXPECT_EQ(at("/modules/vit/nodes/0"), "4:7");
  EXPECT_EQ(at("/modules/vit/nodes/1/id"), "5:8");
  EXPECT_EQ(at("/modules/vit/nodes/1/in/1"), "5:34"); // é is 2 bytes, 1 column
  EXPECT_EQ(at("/modules/vit/nodes/1/nothing"), "5:7"); // nearest enclosing
  EXPECT_EQ(kiln::pointerJoin("/x", "b/c~"), "/x/b~1c~0");
}

TEST(JsonSource, MalformedJsonNamesLineAndColumn) {
  JsonSource src;
  std::string error;
  EXPECT_FALSE(src.loadText("bad.json", "{\n  \"a\": 1,\n  \"b\": ]\n}\n", error));
  EXPECT_EQ(error.rfind("bad.json:3:8: malformed JSON: syntax error", 0), 0u)
      << error;
}

TEST(JsonSource, DuplicateKeysAreErrors) {
  JsonSource src;
  std::string error;
  EXPECT_FALSE(src.loadText("dup.json", "{\"a\": 1,\n \"a\": 2}", error));
  EXPECT_EQ(error, "dup.json:2:2: /a: duplicate key 'a' (first at line 1)");
}

TEST(JsonSource, DeepNestingIsAnErrorNotACrash) {
  // As a broken generator writes: 100,000 levels (this crashed the
  // position scanner's recursion); the limit's first bracket too deep is
  // named, brackets inside strings do not count.
  JsonSource src;
  std::string error;
  std::string deep = "{\"s\": \"[[[[\",\n \"x\": " + std::string(100000, '[') +
                     std::string(100000, ']') + "}";
  EXPECT_FALSE(src.loadText("deep.json", deep, error));
  std::string at = "deep.json:2:" + std::to_string(6 + kiln::kMaxJsonNesting) + ": ";
  EXPECT_EQ(error.rfind(at + "malformed JSON: arrays and objects nested more than 256 deep", 0), 0u)
      << error;
  std::string fits = "{\"x\": " + std::string(kiln::kMaxJsonNesting - 1, '[') +
                     std::string(kiln::kMaxJsonNesting - 1, ']') + "}";
  EXPECT_TRUE(src.loadText("fits.json", fits, error)) << error;
}

TEST(JsonSource, MissingFileIsAnError) {
  JsonSource src;
  std::string error;
  EXPECT_FALSE(src.load("/nonexistent/model.json", error));
  EXPECT_EQ(error.rfind("/nonexistent/model.json: cannot open file", 0), 0u);
}

} // namespace
