//===- KilnOpInterfaces.td - what passes and codegen ask of an op ---------===//
//
// Families of ops that fusion, codegen and the parallel-axis rules treat
// alike: an op joins a family by listing the interface in KilnOps.td, and
// every place that asks "is this a row op / a reduction" asks the interface.
//
//===----------------------------------------------------------------------===//

#ifndef KILN_OP_INTERFACES_TD
#define KILN_OP_INTERFACES_TD

include "mlir/IR/OpBase.td"

def Kiln_RowOpInterface : OpInterface<"RowOpInterface"> {
  let cppNamespace = "::kiln";
  let description = [{
    An op that reads whole rows of its first operand along one axis, in
    several passes (a max, a sum, then the outputs): softmax, log_softmax,
    l2_normalize, layer_norm, argmax. A fused region never runs in parallel
    along that axis; codegen folds over it.
  }];
  let methods = [
    InterfaceMethod<"The axis of the first operand that each row runs along.",
      "int64_t", "getRowAxis", (ins), [{}],
      [{ return static_cast<int64_t>($_op.getAxis()); }]>
  ];
}

def Kiln_ReductionOpInterface : OpInterface<"ReductionOpInterface"> {
  let cppNamespace = "::kiln";
  let description = [{
    An op that folds its operand over `axes` (sorted, unique) into one value
    per kept position: sum, mean, reduce_max, logsumexp.
  }];
  let methods = [
    InterfaceMethod<"The reduced axes of the operand.",
      "::llvm::ArrayRef<int64_t>", "getReducedAxes", (ins), [{}],
      [{ return $_op.getAxes(); }]>,
    InterfaceMethod<"Whether reduced axes stay as dimensions of size 1.",
      "bool", "keepsReducedDims", (ins), [{}],
      [{ return $_op.getKeepdim(); }]>
  ];
}

def Kiln_PoolOpInterface : OpInterface<"PoolOpInterface"> {
  let cppNamespace = "::kiln";
  let description = [{
    A pooling op or its gradient: each result element folds a window of
    one channel's plane. Fusion keeps the parallel axis on N or C; codegen
    loops over the window.
  }];
  let methods = [
    InterfaceMethod<"The window as a convolution's geometry (one kernel per channel).",
      "::kiln::ConvGeometry", "getGeometry", (ins)>
  ];
}

#endif // KILN_OP_INTERFACES_TD
