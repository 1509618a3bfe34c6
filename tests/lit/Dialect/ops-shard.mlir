// RUN: kiln-opt %s | kiln-opt | FileCheck %s
// The sharded optimizer's ops print and parse back, and each chunk is
// ⌈elements / ranks⌉ long: 640 / 4 = 160, 10 / 4 rounds up to 3.

// CHECK-LABEL: func @shard_a_bucket
func.func @shard_a_bucket(%dw: tensor<10x64xf32>, %db: tensor<10xf32>, %w: tensor<10x64xf32>,
                          %b: tensor<10xf32>) {
  // CHECK: %[[C:.*]]:2 = kiln.reduce_scatter %{{.*}}, %{{.*}} {bucket = 1 : i64, bytes = 2600 : i64, gradients, ranks = 4 : i64} : tensor<10x64xf32>, tensor<10xf32>
  %c:2 = kiln.reduce_scatter %dw, %db {bucket = 1 : i64, bytes = 2600 : i64, ranks = 4 : i64, gradients} : tensor<10x64xf32>, tensor<10xf32>
  // CHECK: %[[WC:.*]] = kiln.shard %{{.*}} {ranks = 4 : i64} : tensor<10x64xf32>
  %wc = kiln.shard %w {ranks = 4 : i64} : tensor<10x64xf32>
  %bc = kiln.shard %b {ranks = 4 : i64} : tensor<10xf32>
  // CHECK: kiln.state "optimizer.m.w" {init = {kind = "zeros"}, shard_of = array<i64: 10, 64>, shards = 4 : i64} : tensor<160xf32>
  %m = kiln.state "optimizer.m.w" {init = {kind = "zeros"}, shard_of = array<i64: 10, 64>, shards = 4 : i64} : tensor<160xf32>
  %mw = kiln.add %m, %c#0 : tensor<160xf32>, tensor<160xf32>
  %uw = kiln.sub %wc, %mw : tensor<160xf32>, tensor<160xf32>
  %ub = kiln.sub %bc, %c#1 : tensor<3xf32>, tensor<3xf32>
  // CHECK: kiln.all_gather %{{.*}}, %{{.*}} {bucket = 2 : i64, bytes = 2600 : i64, ranks = 4 : i64} : tensor<160xf32>, tensor<3xf32> -> tensor<10x64xf32>, tensor<10xf32>
  %g:2 = kiln.all_gather %uw, %ub {bucket = 2 : i64, bytes = 2600 : i64, ranks = 4 : i64} : tensor<160xf32>, tensor<3xf32> -> tensor<10x64xf32>, tensor<10xf32>
  kiln.update_param "w" %g#0 : tensor<10x64xf32>
  kiln.update_param "b" %g#1 : tensor<10xf32>
  kiln.update_state "optimizer.m.w" %mw : tensor<160xf32>
  return
}
