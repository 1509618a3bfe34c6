// RUN: kiln-opt %s --kiln-autodiff --verify-diagnostics

// A loss that no trained parameter reaches (only frozen and EMA ones) is an
// error at the loss.

func.func @objective() {
  %f = kiln.param "judge.w" {frozen, init = {kind = "zeros"}} : tensor<4xf32>
  %l = kiln.sum %f {axes = array<i64: 0>} : tensor<4xf32>
  // expected-error @+1 {{the loss does not depend on any trained parameter}}
  kiln.loss %l : tensor<f32>
  return
}
