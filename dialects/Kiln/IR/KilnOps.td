//===- KilnOps.td - kiln op definitions -----------------------------------===//
//
// Sections: graph sources, graph sinks, elementwise, reductions, shape ops,
// contraction, composites. Each op has a summary, a description with an IR
// example, a verifier for what its types cannot say, and shape inference
// (InferTypeOpInterface) wherever the result type follows from the operands
// and attributes. The C++ half is KilnOps.cpp, in the same order.
//
//===----------------------------------------------------------------------===//

#ifndef KILN_OPS_TD
#define KILN_OPS_TD

include "Kiln/IR/KilnDialect.td"
include "Kiln/IR/KilnGradientInterface.td"
include "Kiln/IR/KilnOpInterfaces.td"
include "mlir/Interfaces/InferTypeOpInterface.td"
include "mlir/Interfaces/SideEffectInterfaces.td"

// Ops with a reverse-mode rule (KilnGradients.cpp).
defvar Differentiable = DeclareOpInterfaceMethods<Kiln_GradientOpInterface>;

// Ops computing each result element from the operand elements at the same
// (broadcast) index alone: codegen emits them as one map, fusion passes
// the parallel axis straight through.
def Kiln_ElementwiseMap : NativeOpTrait<"ElementwiseMap"> {
  let cppNamespace = "::kiln::OpTrait";
}

//===----------------------------------------------------------------------===//
// Graph sources
//===----------------------------------------------------------------------===//

// ParamOp
def Kiln_ParamOp : Kiln_Op<"param"> {
  let summary = "a named parameter with its initialiser";
  let description = [{
    A tensor that the optimizer trains (or, with `ema_of`, that follows a
    trained parameter as an exponential moving average). `name` is the
    dotted name it is exported under, prefixed with its network. `init`
    says how the runtime fills it at step 0:

    | kind | keys | values |
    |---|---|---|
    | `zeros`, `ones` | | |
    | `constant` | `value` | |
    | `normal` | `std`, optional `mean` | N(mean, std²) |
    | `trunc_normal` | `std`, optional `mean`, `a`, `b` | N(mean, std²) cut at the absolute bounds [a, b] (default ±2) |
    | `uniform` | `low`, `high` | U(low, high) |
    | `fan_in_uniform` | `fan_in` | U(-1/√fan_in, 1/√fan_in), PyTorch's default Linear/Conv init |
    | `copy` | `from` | the initial value of the parameter named `from` |
    | `file` | `path`, `tensor` | the tensor of that name in a safetensors file |

    `frozen` parameters are never trained (a distillation teacher).

    ```mlir
    %w = kiln.param "net.head.weight" {init = {kind = "trunc_normal", std = 2.0e-02 : f64}} : tensor<10x64xf32>
    %t = kiln.param "teacher.head.weight" {ema_of = "student.head.weight", init = {from = "student.head.weight", kind = "copy"}} : tensor<10x64xf32>
    ```
  }];
  let arguments = (ins StrAttr:$name, DictionaryAttr:$init,
                       OptionalAttr<StrAttr>:$ema_of, UnitAttr:$frozen);
  let results = (outs Kiln_F32Tensor:$result);
  let assemblyFormat = "$name attr-dict `:` type($result)";
  // The init dictionary's kind and keys are checked in C++.
  let hasVerifier = 1;
}

// StateOp
def Kiln_StateOp : Kiln_Op<"state"> {
  let summary = "persistent, untrained tensor (e.g. the DINO centre)";
  let description = [{
    Read at the start of a step; `kiln.update_state` with the same name gives
    its value for the next step. `init` takes the same kinds as `kiln.param`.

    Sharded over the ranks (optimizer state, ZeRO-style), it holds
    `shards` = N and `shard_of`, the whole shape: each rank keeps its
    chunk of the flattened state, ⌈elements / N⌉ long (the last rank's
    zero-padded), as `kiln.shard` cuts it.

    ```mlir
    %c = kiln.state "center" {init = {kind = "zeros"}} : tensor<1x1024xf32>
    ```
  }];
  let arguments = (ins StrAttr:$name, DictionaryAttr:$init,
                       OptionalAttr<DenseI64ArrayAttr>:$shard_of, OptionalAttr<I64Attr>:$shards);
  let results = (outs Kiln_F32Tensor:$result);
  let assemblyFormat = "$name attr-dict `:` type($result)";
  let hasVerifier = 1;
  let builders = [
    // Whole, as every state is until kiln-shard-optimizer.
    OpBuilder<(ins "::mlir::Type":$type, "::mlir::StringAttr":$name,
                   "::mlir::DictionaryAttr":$init), [{
      build($_builder, $_state, type, name, init, nullptr, nullptr);
    }]>
  ];
  let extraClassDeclaration = [{
    /// The state's whole shape: `shard_of` when it is sharded, else its type's.
    llvm::SmallVector<int64_t> wholeShape();
  }];
}

// InputOp
def Kiln_InputOp : Kiln_Op<"input"> {
  let summary = "one batch tensor fed by the data pipeline";
  let description = [{
    `source` says what the data pipeline feeds: a view of the `data`
    section, or `label`.

    ```mlir
    %x = kiln.input "image" {source = "train_view"} : tensor<128x1x28x28xf32>
    %y = kiln.input "label" {source = "label"} : tensor<128xi32>
    ```
  }];
  let arguments = (ins StrAttr:$name, OptionalAttr<StrAttr>:$source);
  let results = (outs Kiln_InputTensor:$result);
  let assemblyFormat = "$name attr-dict `:` type($result)";
}

// ScheduleOp
def Kiln_ScheduleOp : Kiln_Op<"schedule"> {
  let summary = "a scalar the runtime evaluates once per step";
  let description = [{
    `spec` is the schedule (kind and its numbers, see docs/graph-format.md);
    the runtime evaluates it at the current iteration and epoch.

    ```mlir
    %lr = kiln.schedule "lr" {spec = {base = 1.0e-03 : f64, final = 0.0 : f64, kind = "warmup_cosine", warmup_epochs = 0 : i64}} : tensor<f32>
    ```
  }];
  let arguments = (ins StrAttr:$name, DictionaryAttr:$spec);
  let results = (outs Kiln_ScalarF32:$result);
  let assemblyFormat = "$name attr-dict `:` type($result)";
  let hasVerifier = 1;
}

// ConstantOp
def Kiln_ConstantOp : Kiln_Op<"constant", [ConstantLike, Pure,
    AllTypesMatch<["value", "result"]>]> {
  let summary = "a literal tensor";
  let description = [{
    ```mlir
    %half = kiln.constant dense<5.000000e-01> : tensor<f32>
    ```
  }];
  let arguments = (ins ElementsAttr:$value);
  let results = (outs Kiln_AnyTensor:$result);
  let assemblyFormat = "$value attr-dict";
  let hasFolder = 1;
}

// RandomUniformOp
def Kiln_RandomUniformOp : Kiln_Op<"random_uniform"> {
  let summary = "U[0, 1) samples from a per-op stream, deterministic per seed, rank and step";
  let description = [{
    `stream` numbers the op so that each random op draws from its own
    counter-based stream (seed, rank, step, stream). Not pure: two ops never
    merge.

    ```mlir
    %u = kiln.random_uniform {stream = 3 : i64} : tensor<128x1x1xf32>
    ```
  }];
  let arguments = (ins I64Attr:$stream);
  let results = (outs Kiln_F32Tensor:$result);
  let assemblyFormat = "attr-dict `:` type($result)";
}

//===----------------------------------------------------------------------===//
// Graph sinks
//===----------------------------------------------------------------------===//

// LossOp
def Kiln_LossOp : Kiln_Op<"loss"> {
  let summary = "the scalar the training step minimises";
  let description = [{
    Exactly one per graph. With `scaled_by %s`, `kiln-autodiff` starts the
    backward pass from `%s` instead of 1, so every gradient is `%s` times
    the loss's (fp16 loss scaling, inserted by `kiln-scale-loss`); the
    loss itself, as reported, is unscaled.

    ```mlir
    kiln.loss %l : tensor<f32>
    kiln.loss %l scaled_by %scale : tensor<f32>
    ```
  }];
  let arguments = (ins Kiln_ScalarF32:$value, Optional<Kiln_ScalarF32>:$scale);
  let assemblyFormat = "$value (`scaled_by` $scale^)? attr-dict `:` type($value)";
}

// MetricOp
def Kiln_MetricOp : Kiln_Op<"metric"> {
  let summary = "a named scalar reported by every step";
  let description = [{
    ```mlir
    kiln.metric "accuracy" %acc : tensor<f32>
    ```
  }];
  let arguments = (ins StrAttr:$name, Kiln_ScalarF32:$value);
  let assemblyFormat = "$name $value attr-dict `:` type($value)";
}

// UpdateStateOp
def Kiln_UpdateStateOp : Kiln_Op<"update_state"> {
  let summary = "the value a `kiln.state` takes for the next step";
  let description = [{
    Applied after the loss: this step reads the old value everywhere.

    ```mlir
    kiln.update_state "center" %new_center : tensor<1x1024xf32>
    ```
  }];
  let arguments = (ins StrAttr:$name, Kiln_F32Tensor:$value);
  let assemblyFormat = "$name $value attr-dict `:` type($value)";
}

// OutputOp
def Kiln_OutputOp : Kiln_Op<"output"> {
  let summary = "a tensor an entry returns (the evaluation entry's logits or features)";
  let description = [{
    ```mlir
    kiln.output "logits" %logits : tensor<500x10xf32>
    ```
  }];
  let arguments = (ins StrAttr:$name, Kiln_StoredTensor:$value);
  let assemblyFormat = "$name $value attr-dict `:` type($value)";
}

// GradientOp
def Kiln_GradientOp : Kiln_Op<"gradient"> {
  let summary = "the loss's gradient with respect to a trained parameter";
  let description = [{
    Written by `kiln-autodiff` (one per trained parameter the loss depends
    on, summed over every use of the parameter); `kiln-clip-gradients`
    rewrites its operand and `kiln-lower-optimizer` replaces it with the
    update. With `if %apply`, the update (parameter and optimizer state)
    happens only where `%apply` holds, else both keep their values:
    `kiln-unscale-gradients` skips fp16 steps with an inf or NaN this way.

    ```mlir
    kiln.gradient "net.head.weight" %dw : tensor<10x64xf32>
    kiln.gradient "net.head.bias" %db if %finite : tensor<10xf32>
    ```
  }];
  let arguments = (ins StrAttr:$name, Kiln_F32Tensor:$value,
                       Optional<Kiln_ScalarBool>:$apply);
  let assemblyFormat = "$name $value (`if` $apply^)? attr-dict `:` type($value)";
}

// UpdateParamOp
def Kiln_UpdateParamOp : Kiln_Op<"update_param"> {
  let summary = "the value a `kiln.param` takes for the next step";
  let description = [{
    Written by the optimizer (trained parameters) and by the EMA teacher
    update (`ema_of` parameters). Like `kiln.update_state`, it takes effect
    after the step: every read in this step sees the old value.

    ```mlir
    kiln.update_param "net.head.weight" %w_next : tensor<10x64xf32>
    ```
  }];
  let arguments = (ins StrAttr:$name, Kiln_F32Tensor:$value);
  let assemblyFormat = "$name $value attr-dict `:` type($value)";
}

//===----------------------------------------------------------------------===//
// Elementwise
//===----------------------------------------------------------------------===//

// Unary ops keep the operand's type.
class Kiln_UnaryOp<string mnemonic, string formula, list<Trait> traits = []>
    : Kiln_Op<mnemonic, !listconcat(traits, [Pure, Kiln_ElementwiseMap,
        DeclareOpInterfaceMethods<InferTypeOpInterface>])> {
  let summary = "elementwise " # formula;
  let description = "Computes `" # formula # "` per element.\n\n"
    "```mlir\n%y = kiln." # mnemonic # " %x : tensor<128x64xf32>\n```";
  let arguments = (ins Kiln_FloatTensor:$input);
  let results = (outs Kiln_FloatTensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($input)";
  let extraClassDefinition = resultNamesDefinition # [{
    ::llvm::LogicalResult $cppClass::inferReturnTypes(
        ::mlir::MLIRContext *, std::optional<::mlir::Location> loc,
        ::mlir::ValueRange operands, ::mlir::DictionaryAttr attrs,
        ::mlir::OpaqueProperties, ::mlir::RegionRange,
        ::llvm::SmallVectorImpl<::mlir::Type> &inferred) {
      return ::kiln::inferSameType(getOperationName(), loc, operands, attrs,
                                   /*axisAttr=*/false, inferred);
    }
  }];
}

def Kiln_NegOp : Kiln_UnaryOp<"neg", "-x", [Differentiable]>;
def Kiln_ExpOp : Kiln_UnaryOp<"exp", "e^x", [Differentiable]> {
  // exp(log_softmax(x)) = softmax(x): log-softmax's gradient asks for it,
  // and fused codegen computes a softmax and a log-softmax of one row in
  // one pass of exponentials.
  let hasCanonicalizer = 1;
}
def Kiln_LogOp : Kiln_UnaryOp<"log", "ln x", [Differentiable]>;
def Kiln_SqrtOp : Kiln_UnaryOp<"sqrt", "√x", [Differentiable]>;
def Kiln_RsqrtOp : Kiln_UnaryOp<"rsqrt", "1/√x", [Differentiable]>;
def Kiln_TanhOp : Kiln_UnaryOp<"tanh", "tanh x", [Differentiable]>;
def Kiln_SigmoidOp : Kiln_UnaryOp<"sigmoid", "1/(1+e^-x)", [Differentiable]>;
def Kiln_ReluOp : Kiln_UnaryOp<"relu", "max(x, 0)", [Differentiable]>;
def Kiln_AbsOp : Kiln_UnaryOp<"abs", "|x|", [Differentiable]>;
def Kiln_ErfOp : Kiln_UnaryOp<"erf", "erf x", [Differentiable]>;
// Accurate near 0 where e^x - 1 cancels (Adam's bias correction 1 - β^t).
def Kiln_ExpM1Op : Kiln_UnaryOp<"expm1", "e^x - 1", [Differentiable]>;
def Kiln_FloorOp : Kiln_UnaryOp<"floor", "⌊x⌋">;
def Kiln_StopGradientOp : Kiln_UnaryOp<"stop_gradient", "x, with no gradient flowing back"> {
  let description = [{
    The identity in the forward pass; autodiff treats its result as a
    constant (PyTorch's `detach`).

    ```mlir
    %q = kiln.stop_gradient %teacher_probs : tensor<256x1024xf32>
    ```
  }];
}

// GeluOp
def Kiln_GeluOp : Kiln_UnaryOp<"gelu", "GELU(x)", [Differentiable]> {
  let description = [{
    `approximate = "none"` is the exact form x·Φ(x) = 0.5x(1 + erf(x/√2))
    (PyTorch's `nn.GELU()`); `"tanh"` is 0.5x(1 + tanh(√(2/π)(x + 0.044715x³))).
    Where the step also computes Φ(x) (the gradient does), canonicalization
    rewrites the exact form to x·Φ(x), so erf runs once per element.

    ```mlir
    %y = kiln.gelu %x {approximate = "none"} : tensor<128x50x256xf32>
    ```
  }];
  let arguments = (ins Kiln_FloatTensor:$input,
                       DefaultValuedAttr<StrAttr, "\"none\"">:$approximate);
  let hasVerifier = 1;
  // gelu(x) -> x·Φ(x) where the step computes Φ(x) anyway (its gradient).
  let hasCanonicalizer = 1;
}

// Binary ops broadcast their operands numpy-style (trailing dimensions
// aligned; a dimension of 1 stretches).
class Kiln_BinaryOp<string mnemonic, string formula, list<Trait> traits = []>
    : Kiln_Op<mnemonic, !listconcat(traits, [Pure, Kiln_ElementwiseMap,
        DeclareOpInterfaceMethods<InferTypeOpInterface>])> {
  let summary = "elementwise " # formula # ", broadcasting";
  let description = "Computes `" # formula # "` per element after numpy "
    "broadcasting of the two operands.\n\n```mlir\n%z = kiln." # mnemonic #
    " %x, %b : tensor<128x64xf32>, tensor<64xf32>\n```";
  let arguments = (ins Kiln_FloatTensor:$lhs, Kiln_FloatTensor:$rhs);
  let results = (outs Kiln_FloatTensor:$result);
  let assemblyFormat = "$lhs `,` $rhs attr-dict `:` type($lhs) `,` type($rhs)";
  let extraClassDefinition = resultNamesDefinition # [{
    ::llvm::LogicalResult $cppClass::inferReturnTypes(
        ::mlir::MLIRContext *, std::optional<::mlir::Location> loc,
        ::mlir::ValueRange operands, ::mlir::DictionaryAttr,
        ::mlir::OpaqueProperties, ::mlir::RegionRange,
        ::llvm::SmallVectorImpl<::mlir::Type> &inferred) {
      return ::kiln::inferBroadcast(getOperationName(), loc, operands,
                                    {"lhs", "rhs"}, {}, inferred);
    }
  }];
}

def Kiln_AddOp : Kiln_BinaryOp<"add", "x + y", [Commutative, Differentiable]>;
def Kiln_SubOp : Kiln_BinaryOp<"sub", "x - y", [Differentiable]>;
def Kiln_MulOp : Kiln_BinaryOp<"mul", "x * y", [Commutative, Differentiable]>;
def Kiln_DivOp : Kiln_BinaryOp<"div", "x / y", [Differentiable]>;
def Kiln_PowOp : Kiln_BinaryOp<"pow", "x ^ y", [Differentiable]>;
def Kiln_MaxOp : Kiln_BinaryOp<"max", "max(x, y)", [Commutative, Differentiable]>;
def Kiln_MinOp : Kiln_BinaryOp<"min", "min(x, y)", [Commutative, Differentiable]>;

// CompareOp
def Kiln_CompareOp : Kiln_Op<"compare", [Pure, Kiln_ElementwiseMap,
    DeclareOpInterfaceMethods<InferTypeOpInterface>]> {
  let summary = "elementwise comparison giving an i1 mask, broadcasting";
  let description = [{
    `predicate` is one of `eq`, `ne`, `lt`, `le`, `gt`, `ge`. Both operands
    have the same element type (a float type or i32).

    ```mlir
    %hit = kiln.compare "eq", %pred, %label : tensor<128xi32>, tensor<128xi32>
    ```
  }];
  let arguments = (ins StrAttr:$predicate, Kiln_NumberTensor:$lhs, Kiln_NumberTensor:$rhs);
  let results = (outs Kiln_BoolTensor:$result);
  let assemblyFormat = "$predicate `,` $lhs `,` $rhs attr-dict `:` type($lhs) `,` type($rhs)";
  let hasVerifier = 1;
}

// SelectOp
def Kiln_SelectOp : Kiln_Op<"select", [Pure, Kiln_ElementwiseMap,
    Differentiable, DeclareOpInterfaceMethods<InferTypeOpInterface>]> {
  let summary = "cond ? x : y per element, broadcasting all three";
  let description = [{
    ```mlir
    %z = kiln.select %mask, %x, %zero : tensor<128x1xi1>, tensor<128x64xf32>, tensor<f32>
    ```
  }];
  let arguments = (ins Kiln_BoolTensor:$condition, Kiln_FloatTensor:$on_true,
                       Kiln_FloatTensor:$on_false);
  let results = (outs Kiln_FloatTensor:$result);
  let assemblyFormat = [{
    $condition `,` $on_true `,` $on_false attr-dict `:` type($condition) `,`
    type($on_true) `,` type($on_false)
  }];
}

// CastOp
def Kiln_CastOp : Kiln_Op<"cast", [Pure, Kiln_ElementwiseMap, SameOperandsAndResultShape]> {
  let summary = "element type conversion (i1/i32 to f32, f32 to i32 by truncation, between float types by rounding to nearest even)";
  let description = [{
    Float to float rounds to the nearest value of the result type, ties to
    even (f32 to bf16 keeps 8 significant bits); bf16 and f16 to f32 are
    exact. kiln-assign-precision inserts these around the low-precision
    GEMMs.

    ```mlir
    %hitf = kiln.cast %hit : tensor<128xi1> to tensor<128xf32>
    %wlow = kiln.cast %w : tensor<192x64xf32> to tensor<192x64xbf16>
    ```
  }];
  let arguments = (ins Kiln_AnyTensor:$input);
  let results = (outs Kiln_AnyTensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($input) `to` type($result)";
}

//===----------------------------------------------------------------------===//
// Reductions
//===----------------------------------------------------------------------===//

// Reductions over `axes` (sorted, unique, non-negative); `keepdim` keeps the
// reduced dimensions as size 1.
class Kiln_ReduceOp<string mnemonic, string formula>
    : Kiln_Op<mnemonic, [Pure, Differentiable, Kiln_ReductionOpInterface,
        DeclareOpInterfaceMethods<InferTypeOpInterface>]> {
  let summary = formula # " over the given axes";
  let description = "Reduces with `" # formula # "` over `axes`.\n\n"
    "```mlir\n%r = kiln." # mnemonic #
    " %x {axes = array<i64: 1>, keepdim = true} : tensor<128x1024xf32>\n```";
  let arguments = (ins Kiln_FloatTensor:$input, DenseI64ArrayAttr:$axes,
                       DefaultValuedAttr<BoolAttr, "false">:$keepdim);
  let results = (outs Kiln_FloatTensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($input)";
  let extraClassDefinition = resultNamesDefinition # [{
    ::llvm::LogicalResult $cppClass::inferReturnTypes(
        ::mlir::MLIRContext *, std::optional<::mlir::Location> loc,
        ::mlir::ValueRange operands, ::mlir::DictionaryAttr attrs,
        ::mlir::OpaqueProperties, ::mlir::RegionRange,
        ::llvm::SmallVectorImpl<::mlir::Type> &inferred) {
      return ::kiln::inferReduce(getOperationName(), loc, operands, attrs, inferred);
    }
  }];
}

def Kiln_SumOp : Kiln_ReduceOp<"sum", "Σ x">;
def Kiln_MeanOp : Kiln_ReduceOp<"mean", "mean(x)">;
def Kiln_ReduceMaxOp : Kiln_ReduceOp<"reduce_max", "max(x)">;
def Kiln_LogSumExpOp : Kiln_ReduceOp<"logsumexp", "log Σ e^x">;

// ArgmaxOp
def Kiln_ArgmaxOp : Kiln_Op<"argmax", [Pure, Kiln_RowOpInterface,
    DeclareOpInterfaceMethods<InferTypeOpInterface>]> {
  let summary = "index of the largest element along one axis (first on ties)";
  let description = [{
    ```mlir
    %pred = kiln.argmax %logits {axis = 1 : i64} : tensor<128x10xf32>
    ```
  }];
  let arguments = (ins Kiln_FloatTensor:$input, I64Attr:$axis);
  let results = (outs Kiln_IntTensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($input)";
}

//===----------------------------------------------------------------------===//
// Shape ops
//===----------------------------------------------------------------------===//

// ReshapeOp
def Kiln_ReshapeOp : Kiln_Op<"reshape", [Pure, Differentiable]> {
  let summary = "same elements, new shape (row-major)";
  let description = [{
    ```mlir
    %y = kiln.reshape %x : tensor<128x50x192xf32> to tensor<128x50x3x4x16xf32>
    ```
  }];
  let arguments = (ins Kiln_AnyTensor:$input);
  let results = (outs Kiln_AnyTensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($input) `to` type($result)";
  let hasVerifier = 1;
}

// TransposeOp
def Kiln_TransposeOp : Kiln_Op<"transpose", [Pure,
    Differentiable, DeclareOpInterfaceMethods<InferTypeOpInterface>]> {
  let summary = "permute dimensions: result dim i is input dim perm[i]";
  let description = [{
    ```mlir
    %y = kiln.transpose %x {perm = array<i64: 2, 0, 3, 1, 4>} : tensor<128x50x3x4x16xf32>
    ```
  }];
  let arguments = (ins Kiln_AnyTensor:$input, DenseI64ArrayAttr:$perm);
  let results = (outs Kiln_AnyTensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($input)";
}

// BroadcastOp
def Kiln_BroadcastOp : Kiln_Op<"broadcast", [Pure,
    Differentiable, DeclareOpInterfaceMethods<InferTypeOpInterface>]> {
  let summary = "numpy-broadcast the operand to `shape`";
  let description = [{
    ```mlir
    %y = kiln.broadcast %cls {shape = array<i64: 128, 1, 64>} : tensor<1x1x64xf32>
    ```
  }];
  let arguments = (ins Kiln_AnyTensor:$input, DenseI64ArrayAttr:$shape);
  let results = (outs Kiln_AnyTensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($input)";
}

// SliceOp
def Kiln_SliceOp : Kiln_Op<"slice", [Pure,
    Differentiable, DeclareOpInterfaceMethods<InferTypeOpInterface>]> {
  let summary = "strided box [starts, limits) with steps `strides`";
  let description = [{
    One entry per dimension; `strides` are at least 1.

    ```mlir
    %cls = kiln.slice %x {limits = array<i64: 128, 1, 64>, starts = array<i64: 0, 0, 0>, strides = array<i64: 1, 1, 1>} : tensor<128x50x64xf32>
    ```
  }];
  let arguments = (ins Kiln_AnyTensor:$input, DenseI64ArrayAttr:$starts,
                       DenseI64ArrayAttr:$limits, DenseI64ArrayAttr:$strides);
  let results = (outs Kiln_AnyTensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($input)";
}

// ConcatOp
def Kiln_ConcatOp : Kiln_Op<"concat", [Pure,
    Differentiable, DeclareOpInterfaceMethods<InferTypeOpInterface>]> {
  let summary = "join tensors along `axis`";
  let description = [{
    ```mlir
    %t = kiln.concat %cls, %patches {axis = 1 : i64} : tensor<128x1x64xf32>, tensor<128x49x64xf32>
    ```
  }];
  let arguments = (ins Variadic<Kiln_AnyTensor>:$inputs, I64Attr:$axis);
  let results = (outs Kiln_AnyTensor:$result);
  let assemblyFormat = "$inputs attr-dict `:` type($inputs)";
}

// SplitOp
def Kiln_SplitOp : Kiln_Op<"split", [Pure,
    Differentiable, DeclareOpInterfaceMethods<InferTypeOpInterface>]> {
  let summary = "cut a tensor along `axis` into pieces of `sizes`";
  let description = [{
    ```mlir
    %a, %b = kiln.split %x {axis = 0 : i64, sizes = array<i64: 128, 128>} : tensor<256x10xf32>
    ```
  }];
  let arguments = (ins Kiln_AnyTensor:$input, I64Attr:$axis, DenseI64ArrayAttr:$sizes);
  let results = (outs Variadic<Kiln_AnyTensor>:$results);
  let assemblyFormat = "$input attr-dict `:` type($input)";
}

// PadOp
def Kiln_PadOp : Kiln_Op<"pad", [Pure, Differentiable,
    DeclareOpInterfaceMethods<InferTypeOpInterface>]> {
  let summary = "zero padding: `low` before, `high` after and `interior` between elements";
  let description = [{
    One entry per dimension, all non-negative; dimension d of the result
    has low[d] + n + (n - 1)·interior[d] + high[d] elements. It is the
    transpose of `kiln.slice` (the gradient of a strided slice).

    ```mlir
    %y = kiln.pad %x {high = array<i64: 0, 2>, interior = array<i64: 0, 1>, low = array<i64: 0, 1>} : tensor<4x3xf32>
    ```
  }];
  let arguments = (ins Kiln_FloatTensor:$input, DenseI64ArrayAttr:$low,
                       DenseI64ArrayAttr:$high, DenseI64ArrayAttr:$interior);
  let results = (outs Kiln_FloatTensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($input)";
}

//===----------------------------------------------------------------------===//
// Contraction
//===----------------------------------------------------------------------===//

// MatmulOp
def Kiln_MatmulOp : Kiln_Op<"matmul", [Pure,
    Differentiable, DeclareOpInterfaceMethods<InferTypeOpInterface>]> {
  let summary = "batched matrix product over the last two dims, batch dims broadcasting";
  let description = [{
    `lhs` is [..., M, K] (or [..., K, M] with `transpose_lhs`), `rhs` is
    [..., K, N] (or [..., N, K] with `transpose_rhs`); leading batch
    dimensions broadcast numpy-style, so a rank-2 weight applies to every
    token of a rank-3 activation.

    ```mlir
    %y = kiln.matmul %x, %w {transpose_rhs = true} : tensor<128x50x64xf32>, tensor<192x64xf32>
    ```
  }];
  let arguments = (ins Kiln_FloatTensor:$lhs, Kiln_FloatTensor:$rhs,
                       DefaultValuedAttr<BoolAttr, "false">:$transpose_lhs,
                       DefaultValuedAttr<BoolAttr, "false">:$transpose_rhs);
  let results = (outs Kiln_FloatTensor:$result);
  let assemblyFormat = "$lhs `,` $rhs attr-dict `:` type($lhs) `,` type($rhs)";
}

//===----------------------------------------------------------------------===//
// Convolution (NCHW activations, [O, C/groups, KH, KW] weights)
//===----------------------------------------------------------------------===//

// The geometry every 2-D convolution op carries. `padding` is one value for
// every side, [height, width], or [top, left, bottom, right]; read it
// through kiln::convGeometry (KilnShapes.h), never directly.
class Kiln_ConvOp<string mnemonic, list<Trait> traits = []>
    : Kiln_Op<mnemonic, !listconcat(traits, [Pure,
        DeclareOpInterfaceMethods<InferTypeOpInterface>])> {
  dag geometry = (ins DefaultValuedAttr<DenseI64ArrayAttr, "{1, 1}">:$strides,
                      DefaultValuedAttr<DenseI64ArrayAttr, "{0}">:$padding,
                      DefaultValuedAttr<DenseI64ArrayAttr, "{1, 1}">:$dilation,
                      DefaultValuedAttr<I64Attr, "1">:$groups);
  let results = (outs Kiln_FloatTensor:$result);
  let extraClassDeclaration = [{
    /// The sizes of the convolution this op belongs to (checked when the
    /// op was built).
    ::kiln::ConvGeometry getGeometry();
  }];
}

// Conv2dOp
def Kiln_Conv2dOp : Kiln_ConvOp<"conv2d", [Differentiable]> {
  let summary = "2-D cross-correlation, as torch.nn.functional.conv2d without bias";
  let description = [{
    `input` is [N, C, H, W], `weight` [O, C/groups, KH, KW]; the result is
    [N, O, Ho, Wo] with Ho = (H + top + bottom - dilation·(KH - 1) - 1) /
    stride + 1 (rounded down), Wo alike. Groups split C and O evenly
    (groups = C = O is depthwise). A bias is a broadcast `add` after it.
    Runs as a library call (oneDNN on the CPU, cuDNN on GPUs).

    ```mlir
    %y = kiln.conv2d %x, %w {padding = array<i64: 1>, strides = array<i64: 2, 2>} : tensor<128x16x28x28xf32>, tensor<32x16x3x3xf32>
    ```
  }];
  let arguments = !con((ins Kiln_FloatTensor:$input, Kiln_FloatTensor:$weight), geometry);
  let assemblyFormat = "$input `,` $weight attr-dict `:` type($input) `,` type($weight)";
}

// Conv2dInputGradOp
def Kiln_Conv2dInputGradOp : Kiln_ConvOp<"conv2d_input_grad"> {
  let summary = "the gradient of kiln.conv2d with respect to its input";
  let description = [{
    From the result's gradient [N, O, Ho, Wo] and the weight: the input's
    gradient [N, C, input_size...], the transposed convolution of the same
    geometry (`input_size` names H and W, which the stride's rounding
    leaves ambiguous). Made by autodiff.

    ```mlir
    %dx = kiln.conv2d_input_grad %dy, %w {input_size = array<i64: 28, 28>, padding = array<i64: 1>, strides = array<i64: 2, 2>} : tensor<128x32x14x14xf32>, tensor<32x16x3x3xf32>
    ```
  }];
  let arguments = !con((ins Kiln_FloatTensor:$result_grad, Kiln_FloatTensor:$weight,
                            DenseI64ArrayAttr:$input_size), geometry);
  let assemblyFormat = "$result_grad `,` $weight attr-dict `:` type($result_grad) `,` type($weight)";
}

// Conv2dWeightGradOp
def Kiln_Conv2dWeightGradOp : Kiln_ConvOp<"conv2d_weight_grad"> {
  let summary = "the gradient of kiln.conv2d with respect to its weight";
  let description = [{
    From the input [N, C, H, W] and the result's gradient [N, O, Ho, Wo]:
    the weight's gradient [O, C/groups, kernel_size...], summed over the
    batch. Made by autodiff.

    ```mlir
    %dw = kiln.conv2d_weight_grad %x, %dy {kernel_size = array<i64: 3, 3>, padding = array<i64: 1>} : tensor<128x16x28x28xf32>, tensor<128x32x28x28xf32>
    ```
  }];
  let arguments = !con((ins Kiln_FloatTensor:$input, Kiln_FloatTensor:$result_grad,
                            DenseI64ArrayAttr:$kernel_size), geometry);
  let assemblyFormat = "$input `,` $result_grad attr-dict `:` type($input) `,` type($result_grad)";
}

//===----------------------------------------------------------------------===//
// Pooling (NCHW, each channel on its own)
//===----------------------------------------------------------------------===//

// The window every pooling op carries: as a convolution's geometry with one
// [KH, KW] kernel per channel (kiln::poolGeometry reads it). `padding` is
// one value, [height, width] or [top, left, bottom, right], at most half
// the dilated window on each side, so that every window holds an element.
class Kiln_PoolOp<string mnemonic, list<Trait> traits = []>
    : Kiln_Op<mnemonic, !listconcat(traits, [Pure,
        DeclareOpInterfaceMethods<InferTypeOpInterface>,
        DeclareOpInterfaceMethods<Kiln_PoolOpInterface>])> {
  dag window = (ins DenseI64ArrayAttr:$kernel_size, DenseI64ArrayAttr:$strides,
                    DefaultValuedAttr<DenseI64ArrayAttr, "{0}">:$padding,
                    DefaultValuedAttr<DenseI64ArrayAttr, "{1, 1}">:$dilation);
}

// MaxPool2dOp
def Kiln_MaxPool2dOp : Kiln_PoolOp<"max_pool2d", [Differentiable]> {
  let summary = "the maximum over each window, as torch.nn.functional.max_pool2d";
  let description = [{
    `input` is [N, C, H, W]; `result` is [N, C, Ho, Wo] with Ho as a
    convolution's (rounded down; no ceil_mode). Padding counts as -∞.
    `indices` holds where each maximum was, as PyTorch's
    `return_indices=True` does: h·W + w in the input's plane, the first
    one in the window when several tie, kept for the gradient.

    ```mlir
    %y, %i = kiln.max_pool2d %x {kernel_size = array<i64: 3, 3>, padding = array<i64: 1>, strides = array<i64: 2, 2>} : tensor<128x64x32x32xf32>
    ```
  }];
  let arguments = !con((ins Kiln_FloatTensor:$input), window);
  let results = (outs Kiln_FloatTensor:$result, Kiln_IntTensor:$indices);
  let assemblyFormat = "$input attr-dict `:` type($input)";
}

// MaxPool2dGradOp
def Kiln_MaxPool2dGradOp : Kiln_PoolOp<"max_pool2d_grad"> {
  let summary = "the gradient of kiln.max_pool2d with respect to its input";
  let description = [{
    Each element of the input's gradient [N, C, input_size...] sums the
    result's gradient over the windows whose maximum it was (`indices`
    from the forward). Made by autodiff; computed per input element, so
    no two threads write one place.

    ```mlir
    %dx = kiln.max_pool2d_grad %dy, %i {input_size = array<i64: 32, 32>, kernel_size = array<i64: 3, 3>, padding = array<i64: 1>, strides = array<i64: 2, 2>} : tensor<128x64x16x16xf32>, tensor<128x64x16x16xi32>
    ```
  }];
  let arguments = !con((ins Kiln_FloatTensor:$result_grad, Kiln_IntTensor:$indices,
                            DenseI64ArrayAttr:$input_size), window);
  let results = (outs Kiln_FloatTensor:$result);
  let assemblyFormat = "$result_grad `,` $indices attr-dict `:` type($result_grad) `,` type($indices)";
}

// AvgPool2dOp
def Kiln_AvgPool2dOp : Kiln_PoolOp<"avg_pool2d", [Differentiable]> {
  let summary = "the mean over each window, as torch.nn.functional.avg_pool2d";
  let description = [{
    `input` is [N, C, H, W]; `result` is [N, C, Ho, Wo]. Padding counts as
    zeros: with `count_include_pad` (PyTorch's default) every window is
    divided by KH·KW, without it by the number of input elements it covers.
    A global average pool is `kiln.mean` over axes [2, 3].

    ```mlir
    %y = kiln.avg_pool2d %x {kernel_size = array<i64: 2, 2>, strides = array<i64: 2, 2>} : tensor<128x64x32x32xf32>
    ```
  }];
  let arguments = !con((ins Kiln_FloatTensor:$input), window,
                       (ins DefaultValuedAttr<BoolAttr, "true">:$count_include_pad));
  let results = (outs Kiln_FloatTensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($input)";
}

// AvgPool2dGradOp
def Kiln_AvgPool2dGradOp : Kiln_PoolOp<"avg_pool2d_grad"> {
  let summary = "the gradient of kiln.avg_pool2d with respect to its input";
  let description = [{
    Each element of the input's gradient [N, C, input_size...] sums the
    result's gradient, divided as the forward divided it, over the windows
    that cover it. Made by autodiff.

    ```mlir
    %dx = kiln.avg_pool2d_grad %dy {input_size = array<i64: 32, 32>, kernel_size = array<i64: 2, 2>, strides = array<i64: 2, 2>} : tensor<128x64x16x16xf32>
    ```
  }];
  let arguments = !con((ins Kiln_FloatTensor:$result_grad, DenseI64ArrayAttr:$input_size),
                       window, (ins DefaultValuedAttr<BoolAttr, "true">:$count_include_pad));
  let results = (outs Kiln_FloatTensor:$result);
  let assemblyFormat = "$result_grad attr-dict `:` type($result_grad)";
}

//===----------------------------------------------------------------------===//
// Composites: first-class so that fusion and the IR dumps see them whole
//===----------------------------------------------------------------------===//

// Ops that keep their operand's type and work along one axis.
class Kiln_AxisOp<string mnemonic, list<Trait> traits = []>
    : Kiln_Op<mnemonic, !listconcat(traits, [Pure, Kiln_RowOpInterface,
        DeclareOpInterfaceMethods<InferTypeOpInterface>])> {
  let results = (outs Kiln_FloatTensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($input)";
  let extraClassDefinition = resultNamesDefinition # [{
    ::llvm::LogicalResult $cppClass::inferReturnTypes(
        ::mlir::MLIRContext *, std::optional<::mlir::Location> loc,
        ::mlir::ValueRange operands, ::mlir::DictionaryAttr attrs,
        ::mlir::OpaqueProperties, ::mlir::RegionRange,
        ::llvm::SmallVectorImpl<::mlir::Type> &inferred) {
      return ::kiln::inferSameType(getOperationName(), loc, operands, attrs,
                                   /*axisAttr=*/true, inferred);
    }
  }];
}

// SoftmaxOp
def Kiln_SoftmaxOp : Kiln_AxisOp<"softmax", [Differentiable]> {
  let summary = "e^(x - max) / Σ e^(x - max) along `axis`";
  let description = [{
    ```mlir
    %p = kiln.softmax %logits {axis = 1 : i64} : tensor<256x1024xf32>
    ```
  }];
  let arguments = (ins Kiln_FloatTensor:$input, I64Attr:$axis);
}

// LogSoftmaxOp
def Kiln_LogSoftmaxOp : Kiln_AxisOp<"log_softmax", [Differentiable]> {
  let summary = "x - logsumexp(x) along `axis`";
  let description = [{
    ```mlir
    %lp = kiln.log_softmax %logits {axis = 1 : i64} : tensor<128x10xf32>
    ```
  }];
  let arguments = (ins Kiln_FloatTensor:$input, I64Attr:$axis);
}

// L2NormalizeOp
def Kiln_L2NormalizeOp : Kiln_AxisOp<"l2_normalize", [Differentiable]> {
  let summary = "x / max(‖x‖₂, eps) along `axis` (PyTorch F.normalize)";
  let description = [{
    ```mlir
    %u = kiln.l2_normalize %z {axis = 1 : i64, eps = 1.0e-12 : f64} : tensor<256x64xf32>
    ```
  }];
  let arguments = (ins Kiln_FloatTensor:$input, I64Attr:$axis,
                       DefaultValuedAttr<F64Attr, "1e-12">:$eps);
  let hasVerifier = 1;
}

// LayerNormOp
def Kiln_LayerNormOp : Kiln_Op<"layer_norm", [Pure,
    Differentiable, DeclareOpInterfaceMethods<Kiln_RowOpInterface, ["getRowAxis"]>,
    DeclareOpInterfaceMethods<InferTypeOpInterface>]> {
  let summary = "(x - mean) / √(var + eps) · scale + bias over the last dimension";
  let description = [{
    Biased variance, as PyTorch's `nn.LayerNorm`; `scale` and `bias` have the
    shape of the last dimension.

    ```mlir
    %y = kiln.layer_norm %x, %g, %b {eps = 1.0e-06 : f64} : tensor<128x50x64xf32>, tensor<64xf32>, tensor<64xf32>
    ```
  }];
  let arguments = (ins Kiln_FloatTensor:$input, Kiln_FloatTensor:$scale,
                       Kiln_FloatTensor:$bias,
                       DefaultValuedAttr<F64Attr, "1e-5">:$eps);
  let results = (outs Kiln_FloatTensor:$result);
  let assemblyFormat = [{
    $input `,` $scale `,` $bias attr-dict `:` type($input) `,` type($scale) `,` type($bias)
  }];
  let extraClassDefinition = resultNamesDefinition # [{
    int64_t $cppClass::getRowAxis() {
      return ::llvm::cast<::mlir::RankedTensorType>(getInput().getType()).getRank() - 1;
    }
  }];
}

// BatchNormOp
def Kiln_BatchNormOp : Kiln_Op<"batch_norm", [Pure,
    DeclareOpInterfaceMethods<InferTypeOpInterface>]> {
  let summary = "batch normalisation over every axis but axis 1, as torch.nn.BatchNorm2d";
  let description = [{
    `input` is [N, C, ...]; `scale`, `bias`, `running_mean` and
    `running_var` are [C]. With `training` (PyTorch's train mode) each
    channel is normalised by its batch mean and biased batch variance,
    `(x - mean) / √(var + eps) · scale + bias`, and the results
    `updated_mean` and `updated_var` are the running statistics moved
    towards the batch's by `momentum` (the variance unbiased, ·n/(n-1)).
    Without it (eval mode) the running statistics normalise and come back
    unchanged. With `sync` the batch statistics are those of the global
    batch: the mean and the variance are averaged over the data-parallel
    ranks (SyncBatchNorm). `kiln-lower-batch-norm` rewrites it into
    reductions and elementwise ops (and the all-reduces `sync` asks for)
    before autodiff, so its gradient and its kernels are theirs.

    ```mlir
    %y, %m, %v = kiln.batch_norm %x, %g, %b, %rm, %rv {momentum = 1.000000e-01 : f64, training = true} : tensor<128x16x32x32xf32>, tensor<16xf32>, tensor<16xf32>, tensor<16xf32>, tensor<16xf32>
    ```
  }];
  let arguments = (ins Kiln_FloatTensor:$input, Kiln_FloatTensor:$scale,
                       Kiln_FloatTensor:$bias, Kiln_FloatTensor:$running_mean,
                       Kiln_FloatTensor:$running_var,
                       DefaultValuedAttr<F64Attr, "1e-5">:$eps,
                       DefaultValuedAttr<F64Attr, "0.1">:$momentum,
                       DefaultValuedAttr<BoolAttr, "true">:$training,
                       DefaultValuedAttr<BoolAttr, "false">:$sync);
  let results = (outs Kiln_FloatTensor:$result, Kiln_FloatTensor:$updated_mean,
                      Kiln_FloatTensor:$updated_var);
  let assemblyFormat = [{
    $input `,` $scale `,` $bias `,` $running_mean `,` $running_var attr-dict `:`
    type($input) `,` type($scale) `,` type($bias) `,` type($running_mean) `,` type($running_var)
  }];
}

// OneHotOp
def Kiln_OneHotOp : Kiln_Op<"one_hot", [Pure,
    DeclareOpInterfaceMethods<InferTypeOpInterface>]> {
  let summary = "i32 labels to f32 one-hot rows (a new last dimension)";
  let description = [{
    A label outside [0, num_classes) gives a row of zeros.

    ```mlir
    %t = kiln.one_hot %label {num_classes = 10 : i64} : tensor<128xi32>
    ```
  }];
  let arguments = (ins Kiln_IntTensor:$input, I64Attr:$num_classes);
  let results = (outs Kiln_FloatTensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($input)";
}

// ResizeBilinearOp
def Kiln_ResizeBilinearOp : Kiln_Op<"resize_bilinear", [Pure,
    Differentiable, DeclareOpInterfaceMethods<InferTypeOpInterface>]> {
  let summary = "bilinear resize of the last two dimensions to `size`";
  let description = [{
    PyTorch's `F.interpolate(mode="bilinear", align_corners=False)`; used to
    fit a learned position embedding to a smaller crop's patch grid.

    ```mlir
    %p = kiln.resize_bilinear %grid {size = array<i64: 3, 3>} : tensor<1x64x7x7xf32>
    ```
  }];
  let arguments = (ins Kiln_FloatTensor:$input, DenseI64ArrayAttr:$size);
  let results = (outs Kiln_FloatTensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($input)";
  // Resizing to the same size is the identity (align_corners=False).
  let hasFolder = 1;
}

//===----------------------------------------------------------------------===//
// Communication
//===----------------------------------------------------------------------===//

// AllReduceOp
def Kiln_AllReduceOp : Kiln_Op<"all_reduce", [Differentiable,
    DeclareOpInterfaceMethods<InferTypeOpInterface>]> {
  let summary = "the mean over all ranks of a bucket of tensors";
  let description = [{
    Written by `kiln-insert-all-reduce` and, for synchronised batch
    statistics, by `kiln-lower-batch-norm`: each result is the mean over the
    ranks of the same operand (every rank runs the same program, so the
    buckets match). At world size 1 it is the identity and communicates
    nothing. Its gradient is the mean of the results' gradients, which
    makes each rank's backward carry every rank's share, as the averaged
    parameter gradients expect. The runtime packs the operands into one buffer and starts a
    non-blocking all-reduce where the op stands; it waits for it only
    before the first thunk that reads a result, so later work (the rest of
    backward) runs meanwhile. `bucket` numbers the buckets as the pass placed
    them;
    `bytes` is the bucket's size; `gradients` marks the parameter gradients'
    buckets, which `kiln-compress-all-reduce` may send in bf16 (the
    operands then bf16, summed in f32 and rounded by each transport).

    Not pure: communication must neither merge nor move.

    ```mlir
    %g:2 = kiln.all_reduce %dw, %db {bucket = 0 : i64, bytes = 2600 : i64}
        : tensor<10x64xf32>, tensor<10xf32>
    ```
  }];
  let arguments = (ins Variadic<StaticShapeTensorOf<[F32, BF16]>>:$values, I64Attr:$bucket,
                       I64Attr:$bytes, UnitAttr:$gradients);
  let results = (outs Variadic<StaticShapeTensorOf<[F32, BF16]>>:$results);
  let assemblyFormat = "$values attr-dict `:` type($values)";
}

// Sharded optimizer state (ZeRO-style): each rank updates its chunk of
// every parameter, ⌈elements / ranks⌉ of the flattened tensor, the last
// rank's zero-padded. The reference evaluator runs them at ranks = 1; no
// pass emits them yet, and the back half does not plan them.
def Kiln_ReduceScatterOp : Kiln_Op<"reduce_scatter", [
    DeclareOpInterfaceMethods<InferTypeOpInterface>]> {
  let summary = "this rank's chunk of the mean over all ranks of a bucket of tensors";
  let description = [{
    What `kiln.all_reduce` gives, cut to this rank's chunk of each tensor:
    result i is chunk `rank` of operand i flattened and zero-padded to
    `ranks` · ⌈elements / ranks⌉, averaged over the ranks. `bucket`,
    `bytes` (the whole operands') and `gradients` as for `kiln.all_reduce`.

    ```mlir
    %c:2 = kiln.reduce_scatter %dw, %db {bucket = 1 : i64, bytes = 2600 : i64, ranks = 4 : i64,
        gradients} : tensor<10x64xf32>, tensor<10xf32>
    // %c#0 : tensor<160xf32>, %c#1 : tensor<3xf32>
    ```
  }];
  let arguments = (ins Variadic<StaticShapeTensorOf<[F32, BF16]>>:$values, I64Attr:$bucket,
                       I64Attr:$bytes, I64Attr:$ranks, UnitAttr:$gradients);
  let results = (outs Variadic<StaticShapeTensorOf<[F32, BF16]>>:$results);
  let assemblyFormat = "$values attr-dict `:` type($values)";
}

def Kiln_ShardOp : Kiln_Op<"shard", [Pure, DeclareOpInterfaceMethods<InferTypeOpInterface>]> {
  let summary = "this rank's chunk of a tensor that every rank holds whole";
  let description = [{
    Chunk `rank` of the flattened input, ⌈elements / ranks⌉ long, the last
    rank's zero-padded: a parameter as the sharded optimizer updates it.

    ```mlir
    %wc = kiln.shard %w {ranks = 4 : i64} : tensor<10x64xf32>   // tensor<160xf32>
    ```
  }];
  let arguments = (ins Kiln_F32Tensor:$input, I64Attr:$ranks);
  let results = (outs Kiln_F32Tensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($input)";
}

def Kiln_AllGatherOp : Kiln_Op<"all_gather"> {
  let summary = "whole tensors from every rank's chunk";
  let description = [{
    The inverse of `kiln.shard` across the ranks: result i is the
    concatenation of every rank's operand i, the padding dropped, in the
    result's shape (given, as a chunk does not say it). `bucket` and
    `bytes` (the whole results') as for `kiln.all_reduce`.

    ```mlir
    %w:2 = kiln.all_gather %wc, %bc {bucket = 5 : i64, bytes = 2600 : i64, ranks = 4 : i64}
        : tensor<160xf32>, tensor<3xf32> -> tensor<10x64xf32>, tensor<10xf32>
    ```
  }];
  let arguments = (ins Variadic<Kiln_F32Tensor>:$values, I64Attr:$bucket, I64Attr:$bytes,
                       I64Attr:$ranks);
  let results = (outs Variadic<Kiln_F32Tensor>:$results);
  let assemblyFormat = "$values attr-dict `:` type($values) `->` type($results)";
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Fusion
//===----------------------------------------------------------------------===//

// FusionOp
def Kiln_FusionOp : Kiln_Op<"fusion", [IsolatedFromAbove,
    SingleBlockImplicitTerminator<"YieldOp">]> {
  let summary = "ops that run as one kernel, row by row";
  let description = [{
    Formed by `kiln-fuse`. The body computes on rows of one *domain* shape
    D (rows = the product of D's leading dims, the row is D's last dim):
    every value in it is full (shape D), per-row (D with the last dim 1 or
    dropped) or, for the region's arguments only, broadcast along the rows
    (a bias of shape [N], a scalar). Its ops are elementwise ops, reductions
    over the last axis, and the row ops softmax, log_softmax, l2_normalize
    and layer_norm over the last axis. Codegen makes it one kernel that
    keeps each row's intermediates in L1 (CPU) or registers and shared
    memory (CUDA).

    ```mlir
    %p = kiln.fusion (%logits) : (tensor<256x1024xf32>) -> tensor<256x1024xf32> {
    ^bb0(%x: tensor<256x1024xf32>):
      %m = kiln.reduce_max %x {axes = array<i64: 1>, keepdim = true} : tensor<256x1024xf32>
      ...
      kiln.yield %y : tensor<256x1024xf32>
    }
    ```
  }];
  let arguments = (ins Variadic<Kiln_AnyTensor>:$inputs);
  let results = (outs Variadic<Kiln_AnyTensor>:$results);
  let regions = (region SizedRegion<1>:$body);
  let assemblyFormat = "`(` $inputs `)` attr-dict `:` functional-type($inputs, results) $body";
  let hasVerifier = 1;
}

// YieldOp
def Kiln_YieldOp : Kiln_Op<"yield", [Pure, Terminator, HasParent<"FusionOp">]> {
  let summary = "the values a kiln.fusion returns";
  let arguments = (ins Variadic<Kiln_AnyTensor>:$values);
  let assemblyFormat = "$values attr-dict `:` type($values)";
  let builders = [OpBuilder<(ins), [{ /* empty yield, for the implicit terminator */ }]>];
}

#endif // KILN_OPS_TD
