// RUN: kiln-opt %s --kiln-lower-optimizer --kiln-shard-optimizer | FileCheck %s

// Over 4 ranks the gradient bucket is reduce-scattered: each rank gets its
// chunk of the mean, ⌈12 / 4⌉ = 3 of w's 12 elements and ⌈5 / 4⌉ = 2 of b's
// 5. AdamW runs on the chunks: the parameter cut by kiln.shard, the moments
// sharded state of 3 and 2 elements; the step count stays whole. One
// all-gather (the next bucket number) gives the parameters back whole, their
// sinks right after it; the
// statistics bucket stays an all-reduce, and `gradient.*` outputs go.

// CHECK-DAG: kiln.state "optimizer.exp_avg.w" {init = {kind = "zeros"}, shard_of = array<i64: 3, 4>, shards = 4 : i64} : tensor<3xf32>
// CHECK-DAG: kiln.state "optimizer.exp_avg_sq.b" {init = {kind = "zeros"}, shard_of = array<i64: 5>, shards = 4 : i64} : tensor<2xf32>
// CHECK-DAG: kiln.state "optimizer.step" {init = {kind = "zeros"}} : tensor<f32>
// CHECK: %[[C:.*]]:2 = kiln.reduce_scatter %{{.*}}, %{{.*}} {bucket = 0 : i64, bytes = 68 : i64, gradients, ranks = 4 : i64} : tensor<3x4xf32>, tensor<5xf32>
// CHECK: kiln.all_reduce %{{.*}} {bucket = 1 : i64, bytes = 4 : i64} : tensor<f32>
// CHECK: kiln.sub %[[C]]#0, %{{.*}} : tensor<3xf32>, tensor<3xf32>
// CHECK: %[[WC:.*]] = kiln.shard %{{.*}} {ranks = 4 : i64} : tensor<3x4xf32>
// CHECK-NEXT: kiln.mul %[[WC]], %{{.*}} : tensor<3xf32>, tensor<f32>
// CHECK-NEXT: %[[W1:.*]] = kiln.sub %{{.*}}, %{{.*}} : tensor<3xf32>, tensor<3xf32>
// CHECK: kiln.shard %{{.*}} {ranks = 4 : i64} : tensor<5xf32>
// CHECK-NEXT: kiln.mul
// CHECK-NEXT: %[[B1:.*]] = kiln.sub %{{.*}}, %{{.*}} : tensor<2xf32>, tensor<2xf32>
// CHECK-NEXT: %[[G:.*]]:2 = kiln.all_gather %[[W1]], %[[B1]] {bucket = 2 : i64, bytes = 68 : i64, ranks = 4 : i64} : tensor<3xf32>, tensor<2xf32> -> tensor<3x4xf32>, tensor<5xf32>
// CHECK-NEXT: kiln.update_param "w" %[[G]]#0 : tensor<3x4xf32>
// CHECK-NEXT: kiln.update_param "b" %[[G]]#1 : tensor<5xf32>
// CHECK: kiln.update_state "optimizer.exp_avg.w" %{{.*}} : tensor<3xf32>
// CHECK-NOT: kiln.output
// CHECK-NOT: kiln.all_reduce {{.*}} gradients
module attributes {kiln.ranks = 4 : i64, kiln.optimizer = {kind = "adamw", lr = 1.0e-03 : f64, weight_decay = 5.000000e-02 : f64}} {
  func.func @objective() {
    %w = kiln.param "w" {init = {kind = "zeros"}} : tensor<3x4xf32>
    %b = kiln.param "b" {init = {kind = "zeros"}} : tensor<5xf32>
    %x = kiln.input "x" : tensor<3x4xf32>
    %y = kiln.input "y" : tensor<5xf32>
    %l = kiln.sum %x {axes = array<i64: 0, 1>} : tensor<3x4xf32>
    %r:2 = kiln.all_reduce %x, %y {bucket = 0 : i64, bytes = 68 : i64, gradients} : tensor<3x4xf32>, tensor<5xf32>
    %lm = kiln.all_reduce %l {bucket = 1 : i64, bytes = 4 : i64} : tensor<f32>
    kiln.loss %lm : tensor<f32>
    kiln.output "gradient.w" %r#0 : tensor<3x4xf32>
    kiln.gradient "w" %r#0 : tensor<3x4xf32>
    kiln.gradient "b" %r#1 : tensor<5xf32>
    return
  }
}
