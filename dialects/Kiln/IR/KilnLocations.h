//===- KilnLocations.h - the JSON node behind an op's location --*- C++ -*-===//
//
// The importer gives each op NameLoc(node path, file:line:col); an op of a
// module instance has that inside a CallSiteLoc whose callers are the call
// nodes that led there, innermost first, each NameLoc(module called,
// file:line:col of the call).
//
//===----------------------------------------------------------------------===//
#ifndef KILN_IR_KILNLOCATIONS_H
#define KILN_IR_KILNLOCATIONS_H

#include "mlir/IR/Location.h"

#include <vector>

namespace kiln {

/// Where the op's node is (the callee of a call-site chain).
inline mlir::Location nodeLocation(mlir::Location loc) {
  while (auto call = mlir::dyn_cast<mlir::CallSiteLoc>(loc))
    loc = call.getCallee();
  return loc;
}

/// The node's path ("net.blocks.0.attn.qkv"), or null.
inline mlir::NameLoc nodeName(mlir::Location loc) {
  return mlir::dyn_cast<mlir::NameLoc>(nodeLocation(loc));
}

/// The calls that led to the node, innermost first.
inline std::vector<mlir::Location> callersOf(mlir::Location loc) {
  std::vector<mlir::Location> callers;
  auto call = mlir::dyn_cast<mlir::CallSiteLoc>(loc);
  while (call) {
    mlir::Location caller = call.getCaller();
    call = mlir::dyn_cast<mlir::CallSiteLoc>(caller);
    callers.push_back(call ? call.getCallee() : caller);
  }
  return callers;
}

} // namespace kiln

#endif // KILN_IR_KILNLOCATIONS_H
