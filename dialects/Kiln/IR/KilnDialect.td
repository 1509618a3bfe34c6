//===- KilnDialect.td - the kiln dialect and its op base classes ---------===//
//
// The tensor-level dialect a JSON graph is imported into. Every value is a
// ranked, statically shaped tensor of f32, i32 (labels, indices) or i1
// (masks). Parameters, state, inputs and schedules are ops, not function
// arguments, so every later phase sees them by name.
//
//===----------------------------------------------------------------------===//

#ifndef KILN_DIALECT_TD
#define KILN_DIALECT_TD

include "mlir/IR/OpAsmInterface.td"
include "mlir/IR/OpBase.td"

def Kiln_Dialect : Dialect {
  let name = "kiln";
  let cppNamespace = "::kiln";
  let summary = "Tensor-level ops for training graphs: math, parameters, state, losses.";
  let description = [{
    The kiln dialect is what `kiln compile` imports a JSON graph into and what
    the training-step passes (autodiff, optimizer, state updates, fusion)
    transform. Values are statically shaped tensors; binary elementwise ops
    broadcast numpy-style; reductions name their axes.

    The graph lives in one `func.func` with no arguments. Its sources are
    `kiln.param`, `kiln.state`, `kiln.input`, `kiln.schedule` and
    `kiln.constant`; its sinks are `kiln.loss`, `kiln.metric` and
    `kiln.update_state`.
  }];
  // Inherent attributes stay in the attribute dictionary (not properties) so
  // that the JSON importer can build any op generically from its attributes.
  let usePropertiesForAttributes = 0;
}

// Base class of every kiln op. Results print under their node's name
// (`%student.head.y`, `%grad.student.head.y`), a named op's under its name
// (`%student.head.w` for a param, `%fusion_3_softmax_64x10` for a region),
// a region's block arguments after the inputs they stand for:
// the same in every phase's dump. An op that adds C++ definitions keeps
// these: extraClassDefinition = resultNamesDefinition # [{...}].
class Kiln_Op<string mnemonic, list<Trait> traits = []>
    : Op<Kiln_Dialect, mnemonic, !listconcat(traits,
        [DeclareOpInterfaceMethods<OpAsmOpInterface,
                                   ["getAsmResultNames", "getAsmBlockArgumentNames"]>])> {
  code resultNamesDefinition = [{
    void $cppClass::getAsmResultNames(::mlir::OpAsmSetValueNameFn setNameFn) {
      ::kiln::nameResultsAfterNode(getOperation(), setNameFn);
    }
    void $cppClass::getAsmBlockArgumentNames(::mlir::Region &region,
                                             ::mlir::OpAsmSetValueNameFn setNameFn) {
      ::kiln::nameArgumentsAfterInputs(getOperation(), region, setNameFn);
    }
  }];
  let extraClassDefinition = resultNamesDefinition;
}

//===----------------------------------------------------------------------===//
// Type constraints
//===----------------------------------------------------------------------===//

// Math runs on any float type: f32, or the low precision that
// kiln-assign-precision gives GEMMs and what follows them. What persists
// or leaves the step (parameters, state, gradients, updates, outputs,
// collectives) is f32 or an integer, never the low precision.
def Kiln_FloatTensor : StaticShapeTensorOf<[F32, BF16, F16]>;
def Kiln_F32Tensor : StaticShapeTensorOf<[F32]>;
def Kiln_IntTensor : StaticShapeTensorOf<[I32]>;
def Kiln_BoolTensor : StaticShapeTensorOf<[I1]>;
def Kiln_AnyTensor : StaticShapeTensorOf<[F32, BF16, F16, I32, I1]>;
def Kiln_StoredTensor : StaticShapeTensorOf<[F32, I32, I1]>;
def Kiln_InputTensor : StaticShapeTensorOf<[F32, I32]>;
def Kiln_NumberTensor : StaticShapeTensorOf<[F32, BF16, F16, I32]>;
// Scalars are buildable, so an optional scalar operand needs no type.
def Kiln_ScalarF32 : 0DTensorOf<[F32]>,
    BuildableType<"::mlir::RankedTensorType::get({}, $_builder.getF32Type())">;
def Kiln_ScalarBool : 0DTensorOf<[I1]>,
    BuildableType<"::mlir::RankedTensorType::get({}, $_builder.getI1Type())">;

#endif // KILN_DIALECT_TD
