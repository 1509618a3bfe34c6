//===- KilnDialect.cpp - kiln dialect registration ------------------------===//
#include "Kiln/IR/KilnDialect.h"
#include "Kiln/IR/KilnOps.h"

#include "Kiln/IR/KilnOpsDialect.cpp.inc"
#include "Kiln/IR/KilnOpInterfaces.cpp.inc"

void kiln::KilnDialect::initialize() {
  addOperations<
#define GET_OP_LIST
#include "Kiln/IR/KilnOps.cpp.inc"
      >();
}
