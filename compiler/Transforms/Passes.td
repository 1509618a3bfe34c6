//===- Passes.td - kiln compiler passes -----------------------------------===//
//
// One pass a file, named after the pass (kiln-verify-step -> VerifyStep.cpp),
// with a lit test of the same name under tests/lit/Transforms/.
//
//===----------------------------------------------------------------------===//

#ifndef KILN_TRANSFORMS_PASSES_TD
#define KILN_TRANSFORMS_PASSES_TD

include "mlir/Pass/PassBase.td"

def KilnVerifyStep : Pass<"kiln-verify-step", "::mlir::func::FuncOp"> {
  let summary = "Check graph-wide rules that no single op can see";
  let description = [{
    Op verifiers check one op; this pass checks the graph as a whole before
    any training-step pass relies on it:

    - exactly one `kiln.loss`;
    - parameter, state, input, schedule and metric names are unique per kind;
    - `ema_of` and `init = {kind = "copy", from = ...}` name an existing
      parameter of the same type;
    - every `kiln.update_state` names an existing state of the same type, at
      most once;
    - every `kiln.random_uniform` has its own stream number.

    Each error points at the op (and so into the JSON graph it came from).

    ```mlir
    // error: 'kiln.update_state' op updates state "centre", which does not exist
    kiln.update_state "centre" %c : tensor<1x8xf32>
    ```
  }];
}

#endif // KILN_TRANSFORMS_PASSES_TD
