//===- KilnOps.h - kiln op classes -------------------------------*- C++ -*-===//
#ifndef KILN_IR_KILNOPS_H
#define KILN_IR_KILNOPS_H

#include "Kiln/IR/KilnDialect.h"
#include "Kiln/IR/KilnShapes.h"
#include "mlir/Bytecode/BytecodeOpInterface.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/IR/OpImplementation.h"
#include "mlir/Interfaces/InferTypeOpInterface.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

namespace kiln {
class GradientOpInterface;
}
#include "Kiln/IR/KilnGradientInterface.h.inc"

#define GET_OP_CLASSES
#include "Kiln/IR/KilnOps.h.inc"

#endif // KILN_IR_KILNOPS_H
