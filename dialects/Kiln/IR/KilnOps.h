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

namespace OpTrait {
/// Marks ops that compute each result element from the operands' elements
/// at the same (numpy-broadcast) index (Kiln_ElementwiseMap in KilnOps.td).
template <typename ConcreteType>
class ElementwiseMap : public mlir::OpTrait::TraitBase<ConcreteType, ElementwiseMap> {};
} // namespace OpTrait

inline bool isElementwiseMap(mlir::Operation *op) {
  return op->hasTrait<OpTrait::ElementwiseMap>();
}

/// Names `op`'s results for printing: its `name` attribute (a param, a
/// region), else its node's (KilnLocations.h), "grad(x)" as grad.x.
void nameResultsAfterNode(mlir::Operation *op, mlir::OpAsmSetValueNameFn setNameFn);
/// Names the entry block arguments of `op`'s `region` when they stand for
/// its operands (a kiln.fusion's inputs) after those operands' ops.
void nameArgumentsAfterInputs(mlir::Operation *op, mlir::Region &region,
                              mlir::OpAsmSetValueNameFn setNameFn);
} // namespace kiln
#include "Kiln/IR/KilnGradientInterface.h.inc"
#include "Kiln/IR/KilnOpInterfaces.h.inc"

#define GET_OP_CLASSES
#include "Kiln/IR/KilnOps.h.inc"

#endif // KILN_IR_KILNOPS_H
