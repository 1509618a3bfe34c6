// RUN: kiln-opt %s -split-input-file -kiln-verify-step -verify-diagnostics | FileCheck %s
// kiln-verify-step accepts a well-formed graph unchanged and reports each
// graph-wide error at the op that causes it.

// CHECK-LABEL: func @objective
// CHECK: kiln.update_state "center"
func.func @objective() {
  %w = kiln.param "s.w" {init = {kind = "zeros"}} : tensor<4xf32>
  %t = kiln.param "t.w" {ema_of = "s.w", init = {kind = "copy", from = "s.w"}} : tensor<4xf32>
  %c = kiln.state "center" {init = {kind = "zeros"}} : tensor<4xf32>
  %l = kiln.sum %w {axes = array<i64: 0>} : tensor<4xf32>
  kiln.loss %l : tensor<f32>
  kiln.update_state "center" %t : tensor<4xf32>
  return
}

// -----

func.func @objective() {
  // expected-note @+1 {{first defined here}}
  %a = kiln.param "w" {init = {kind = "zeros"}} : tensor<f32>
  // expected-error @+1 {{'kiln.param' op redefines parameter "w"}}
  %b = kiln.param "w" {init = {kind = "zeros"}} : tensor<f32>
  kiln.loss %a : tensor<f32>
  return
}

// -----

// expected-error @+1 {{'func.func' op needs exactly one kiln.loss, found 0}}
func.func @objective() {
  %a = kiln.param "w" {init = {kind = "zeros"}} : tensor<f32>
  return
}

// -----

// expected-error @+1 {{'func.func' op needs exactly one kiln.loss, found 2}}
func.func @objective() {
  %a = kiln.param "w" {init = {kind = "zeros"}} : tensor<f32>
  // expected-note @+1 {{kiln.loss here}}
  kiln.loss %a : tensor<f32>
  // expected-note @+1 {{kiln.loss here}}
  kiln.loss %a : tensor<f32>
  return
}

// -----

func.func @objective() {
  %a = kiln.param "w" {init = {kind = "zeros"}} : tensor<f32>
  // expected-error @+1 {{'kiln.param' op refers to parameter "v", which does not exist}}
  %t = kiln.param "t" {ema_of = "v", init = {kind = "copy", from = "v"}} : tensor<f32>
  kiln.loss %a : tensor<f32>
  return
}

// -----

func.func @objective() {
  %a = kiln.param "w" {init = {kind = "zeros"}} : tensor<f32>
  // expected-error @+1 {{'kiln.param' op has type tensor<2xf32> but its source "w" has tensor<f32>}}
  %t = kiln.param "t" {init = {kind = "copy", from = "w"}} : tensor<2xf32>
  kiln.loss %a : tensor<f32>
  return
}

// -----

func.func @objective() {
  %a = kiln.param "w" {init = {kind = "zeros"}} : tensor<f32>
  kiln.loss %a : tensor<f32>
  // expected-error @+1 {{'kiln.update_state' op updates state "centre", which does not exist}}
  kiln.update_state "centre" %a : tensor<f32>
  return
}

// -----

func.func @objective() {
  %c = kiln.state "center" {init = {kind = "zeros"}} : tensor<4xf32>
  %a = kiln.param "w" {init = {kind = "zeros"}} : tensor<f32>
  kiln.loss %a : tensor<f32>
  // expected-error @+1 {{'kiln.update_state' op gives state "center" a tensor<f32> value but it is tensor<4xf32>}}
  kiln.update_state "center" %a : tensor<f32>
  return
}

// -----

func.func @objective() {
  %c = kiln.state "center" {init = {kind = "zeros"}} : tensor<f32>
  kiln.loss %c : tensor<f32>
  // expected-note @+1 {{first defined here}}
  kiln.update_state "center" %c : tensor<f32>
  // expected-error @+1 {{'kiln.update_state' op redefines update of state "center"}}
  kiln.update_state "center" %c : tensor<f32>
  return
}

// -----

func.func @objective() {
  %u = kiln.random_uniform {stream = 0 : i64} : tensor<f32>
  // expected-error @+1 {{'kiln.random_uniform' op reuses random stream 0}}
  %v = kiln.random_uniform {stream = 0 : i64} : tensor<f32>
  kiln.loss %u : tensor<f32>
  return
}
