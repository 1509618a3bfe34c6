//===- DialectTest.cpp - the importer can build every kiln op -------------===//
#include "Kiln/IR/KilnDialect.h"
#include "compiler/Import/Importer.h"

#include "mlir/IR/MLIRContext.h"

#include <gtest/gtest.h>

namespace {

// A new op or attribute in KilnOps.td must be readable from JSON: the
// importer builds ops generically, so this is the one table to keep in step.
TEST(Dialect, EveryNodeOpIsImportable) {
  mlir::MLIRContext context;
  context.loadDialect<kiln::KilnDialect>();
  std::vector<std::string> missing = kiln::unreadableNodeAttributes(context);
  std::string list;
  for (auto &m : missing)
    list += m + " ";
  EXPECT_TRUE(missing.empty()) << "not readable from JSON: " << list;
  // And the test looked at a real dialect.
  EXPECT_GT(context.getRegisteredOperations().size(), 40u);
}

} // namespace
