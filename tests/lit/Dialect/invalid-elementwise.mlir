// RUN: kiln-opt %s -split-input-file -verify-diagnostics
// Verifier errors of elementwise ops.

func.func @no_broadcast(%a: tensor<2x4xf32>, %b: tensor<3xf32>) {
  // expected-error @+1 {{'kiln.add' op operand 'rhs' (tensor<3xf32>) does not broadcast with 'lhs' (tensor<2x4xf32>)}}
  %0 = kiln.add %a, %b : tensor<2x4xf32>, tensor<3xf32>
  return
}

// -----

func.func @wrong_result(%a: tensor<2x4xf32>, %b: tensor<4xf32>) {
  // expected-error @+2 {{'kiln.mul' op inferred type(s) 'tensor<2x4xf32>' are incompatible with return type(s) of operation 'tensor<4xf32>'}}
  // expected-error @+1 {{'kiln.mul' op failed to infer returned types}}
  %0 = "kiln.mul"(%a, %b) : (tensor<2x4xf32>, tensor<4xf32>) -> tensor<4xf32>
  return
}

// -----

func.func @int_operand(%a: tensor<4xi32>) {
  // expected-error @+1 {{operand #0 must be statically shaped tensor of 32-bit float or bfloat16 type or 16-bit float values}}
  %0 = "kiln.exp"(%a) : (tensor<4xi32>) -> tensor<4xi32>
  return
}

// -----

func.func @gelu_form(%a: tensor<4xf32>) {
  // expected-error @+1 {{approximate must be "none" or "tanh", got "erf"}}
  %0 = kiln.gelu %a {approximate = "erf"} : tensor<4xf32>
  return
}

// -----

func.func @predicate(%a: tensor<4xf32>) {
  // expected-error @+1 {{predicate must be one of eq, ne, lt, le, gt, ge; got "less"}}
  %0 = kiln.compare "less", %a, %a : tensor<4xf32>, tensor<4xf32>
  return
}

// -----

func.func @compare_types(%a: tensor<4xf32>, %b: tensor<4xi32>) {
  // expected-error @+1 {{operands 'lhs' (tensor<4xf32>) and 'rhs' (tensor<4xi32>) have different element types}}
  %0 = kiln.compare "eq", %a, %b : tensor<4xf32>, tensor<4xi32>
  return
}

// -----

func.func @select_shapes(%c: tensor<3xi1>, %a: tensor<4xf32>) {
  // expected-error @+1 {{'kiln.select' op operand 'on_true' (tensor<4xf32>) does not broadcast with 'condition' (tensor<3xi1>)}}
  %0 = kiln.select %c, %a, %a : tensor<3xi1>, tensor<4xf32>, tensor<4xf32>
  return
}

// -----

func.func @cast_shape(%a: tensor<4xi1>) {
  // expected-error @+1 {{requires the same shape for all operands and results}}
  %0 = kiln.cast %a : tensor<4xi1> to tensor<3xf32>
  return
}

// -----

func.func @mixed_precision(%a: tensor<4xbf16>, %b: tensor<4xf32>) {
  // expected-error @+1 {{'kiln.add' op operand 'rhs' (tensor<4xf32>) has another element type than 'lhs' (tensor<4xbf16>); convert one with kiln.cast}}
  %0 = kiln.add %a, %b : tensor<4xbf16>, tensor<4xf32>
  return
}

// -----

func.func @select_mixed_precision(%c: tensor<4xi1>, %a: tensor<4xbf16>, %b: tensor<4xf32>) {
  // expected-error @+1 {{'kiln.select' op 'on_true' (tensor<4xbf16>) and 'on_false' (tensor<4xf32>) have different element types}}
  %0 = kiln.select %c, %a, %b : tensor<4xi1>, tensor<4xbf16>, tensor<4xf32>
  return
}
