//===- KilnLocations.h - the JSON node behind an op's location --*- C++ -*-===//
//
// The importer gives each op NameLoc(node path, file:line:col); an op of a
// module instance has that inside a CallSiteLoc whose callers are the call
// nodes that led there, innermost first, each NameLoc(module called,
// file:line:col of the call); a network's call node adds the outermost,
// NameLoc(call node, NameLoc(network, file:line:col)). What passes build
// for a node says what it is for: ROLE(node), e.g. grad(net.fc.y) for the
// backward of net.fc.y, update(net.fc.weight) for its optimizer step.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_IR_KILNLOCATIONS_H
#define KILN_IR_KILNLOCATIONS_H

#include "mlir/IR/BuiltinAttributes.h"
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

/// `loc` with its node's name X (inside its call sites) made "ROLE(X)":
/// what a pass builds for the node (grad, update, clip).
inline mlir::Location forNode(mlir::Location loc, llvm::StringRef role) {
  if (auto call = mlir::dyn_cast<mlir::CallSiteLoc>(loc))
    return mlir::CallSiteLoc::get(forNode(call.getCallee(), role), call.getCaller());
  mlir::MLIRContext *ctx = loc->getContext();
  if (auto name = mlir::dyn_cast<mlir::NameLoc>(loc))
    return mlir::NameLoc::get(
        mlir::StringAttr::get(ctx, role + "(" + name.getName().getValue() + ")"),
        name.getChildLoc());
  return mlir::NameLoc::get(mlir::StringAttr::get(ctx, role), loc);
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
