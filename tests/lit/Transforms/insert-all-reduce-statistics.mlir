// RUN: kiln-opt %s --kiln-insert-all-reduce | FileCheck %s

// The loss, the metrics and the state updates computed from the rank's
// batch are averaged in one bucket after the last of them: DINO's centre
// (m·C + (1-m)·batch mean: its mean over ranks is the update over the
// global batch). What does not depend on the batch (the parameter-only
// metric, the counter state) is the same on every rank and stays as is.

// CHECK: %[[C:.*]] = kiln.add
// CHECK-NEXT: %[[L:.*]] = kiln.sum
// CHECK-NEXT: %[[BM:.*]] = kiln.mean
// CHECK-NEXT: %[[R:.*]]:3 = kiln.all_reduce %[[L]], %[[BM]], %[[C]] {bucket = 0 : i64, bytes = 40 : i64} : tensor<f32>, tensor<f32>, tensor<1x8xf32>
// CHECK: kiln.loss %[[R]]#0
// CHECK: kiln.metric "batch_mean" %[[R]]#1
// CHECK: kiln.metric "weight_sum" %[[W:[^ ]*]] :
// CHECK: kiln.update_state "centre" %[[R]]#2
// CHECK: kiln.update_state "count" %[[N:[^ ]*]] :
// CHECK-NOT: kiln.all_reduce
func.func @objective() {
  %t = kiln.input "teacher_out" : tensor<4x8xf32>
  %c = kiln.state "centre" {init = {kind = "zeros"}} : tensor<1x8xf32>
  %n = kiln.state "count" {init = {kind = "zeros"}} : tensor<f32>
  %w = kiln.param "w" {init = {kind = "zeros"}, frozen} : tensor<8xf32>
  %m = kiln.constant dense<0.9> : tensor<f32>
  %one_minus_m = kiln.constant dense<0.1> : tensor<f32>
  %mean = kiln.mean %t {axes = array<i64: 0>, keepdim = true} : tensor<4x8xf32>
  %old = kiln.mul %c, %m : tensor<1x8xf32>, tensor<f32>
  %new = kiln.mul %mean, %one_minus_m : tensor<1x8xf32>, tensor<f32>
  %centre = kiln.add %old, %new : tensor<1x8xf32>, tensor<1x8xf32>
  %l = kiln.sum %t {axes = array<i64: 0, 1>} : tensor<4x8xf32>
  %bm = kiln.mean %t {axes = array<i64: 0, 1>} : tensor<4x8xf32>
  %ws = kiln.sum %w {axes = array<i64: 0>} : tensor<8xf32>
  %one = kiln.constant dense<1.0> : tensor<f32>
  %n1 = kiln.add %n, %one : tensor<f32>, tensor<f32>
  kiln.loss %l : tensor<f32>
  kiln.metric "batch_mean" %bm : tensor<f32>
  kiln.metric "weight_sum" %ws : tensor<f32>
  kiln.update_state "centre" %centre : tensor<1x8xf32>
  kiln.update_state "count" %n1 : tensor<f32>
  return
}
