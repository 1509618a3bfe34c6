//===- KilnGradientInterface.td - the reverse-mode rule of an op ----------===//
//
// Every differentiable kiln op implements this interface; its rule lives in
// KilnGradients.cpp under the op's own name (AddOp::buildGradients, ...), in
// KilnOps.td order. Ops without it (floor, stop_gradient, compare, argmax,
// one_hot, cast, sources) pass no gradient to their operands.
//
//===----------------------------------------------------------------------===//

#ifndef KILN_GRADIENT_INTERFACE_TD
#define KILN_GRADIENT_INTERFACE_TD

include "mlir/IR/OpBase.td"

def Kiln_GradientOpInterface : OpInterface<"GradientOpInterface"> {
  let cppNamespace = "::kiln";
  let description = [{
    The vector-Jacobian product of an op: given the loss's gradient with
    respect to each result, build kiln ops computing the gradient with respect
    to each operand. Used by the `kiln-autodiff` pass.
  }];
  let methods = [
    InterfaceMethod<[{
        Builds, at `b`'s insertion point, the gradient of every operand.
        `resultGrads` has one entry per result (null for a result nothing
        depends on; at least one is set). `operandGrads` receives one entry
        per operand, null for an operand that gets no gradient (an i1
        condition, an integer label). Each gradient has its operand's type.
      }],
      "::llvm::LogicalResult", "buildGradients",
      (ins "::mlir::OpBuilder &":$b,
           "::llvm::ArrayRef<::mlir::Value>":$resultGrads,
           "::llvm::SmallVectorImpl<::mlir::Value> &":$operandGrads)>
  ];
}

#endif // KILN_GRADIENT_INTERFACE_TD
