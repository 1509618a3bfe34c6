// RUN: kiln-opt %s --kiln-lower-optimizer --kiln-shard-optimizer | FileCheck %s

// LARS's trust ratio needs the whole parameter's and update's norms. The
// parameter is whole on every rank: its norm stays as it was. The update
// is a chunk (6 of the 12 elements over 2 ranks): each rank sums the
// squares of its chunk, the partial sums are averaged by an all-reduce of
// their own (numbered after the gradient buckets, before the all-gather)
// and multiplied by the 2 ranks; the ratio goes on as before on scalars.

// CHECK: %[[C:.*]] = kiln.reduce_scatter %{{.*}} {bucket = 0 : i64, bytes = 48 : i64, gradients, ranks = 2 : i64} : tensor<3x4xf32>
// CHECK: %[[WC:.*]] = kiln.shard %{{.*}} {ranks = 2 : i64} : tensor<3x4xf32>
// CHECK: %[[D:.*]] = kiln.add %[[C]], %{{.*}} : tensor<6xf32>, tensor<6xf32>
// CHECK: kiln.sum %{{.*}} {axes = array<i64: 0, 1>} : tensor<3x4xf32>
// CHECK: %[[DD:.*]] = kiln.mul %[[D]], %[[D]] : tensor<6xf32>, tensor<6xf32>
// CHECK-NEXT: %[[PS:.*]] = kiln.sum %[[DD]] {axes = array<i64: 0>} : tensor<6xf32>
// CHECK-NEXT: %[[PM:.*]] = kiln.all_reduce %[[PS]] {bucket = 1 : i64, bytes = 4 : i64} : tensor<f32>
// CHECK-NEXT: %[[TWO:.*]] = kiln.constant dense<2.000000e+00> : tensor<f32>
// CHECK-NEXT: %[[UN2:.*]] = kiln.mul %[[PM]], %[[TWO]] : tensor<f32>, tensor<f32>
// CHECK-NEXT: kiln.sqrt %[[UN2]] : tensor<f32>
// CHECK: kiln.all_gather %{{.*}} {bucket = 2 : i64, bytes = 48 : i64, ranks = 2 : i64} : tensor<6xf32> -> tensor<3x4xf32>
// CHECK: kiln.update_state "optimizer.mu.w" %{{.*}} : tensor<6xf32>
module attributes {kiln.ranks = 2 : i64, kiln.optimizer = {kind = "lars", lr = 1.0e-01 : f64, weight_decay = 1.0e-06 : f64, momentum = 9.0e-01 : f64}} {
  func.func @objective() {
    %w = kiln.param "w" {init = {kind = "zeros"}} : tensor<3x4xf32>
    %x = kiln.input "x" : tensor<3x4xf32>
    %l = kiln.constant dense<0.0> : tensor<f32>
    kiln.loss %l : tensor<f32>
    %r = kiln.all_reduce %x {bucket = 0 : i64, bytes = 48 : i64, gradients} : tensor<3x4xf32>
    kiln.gradient "w" %r : tensor<3x4xf32>
    return
  }
}
