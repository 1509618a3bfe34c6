// RUN: kiln-opt %s --kiln-lower-optimizer --kiln-shard-optimizer | FileCheck %s

// Freezing keeps a parameter with a select built right before its own
// sink, so the bucket's last chunk is made after the first parameter's
// sink: both sinks move after the bucket's all-gather, which reads the
// kept chunks (the frozen one selects between its new and old chunk).

// CHECK: %[[GATE:.*]] = kiln.compare "gt"
// CHECK: kiln.update_state "optimizer.momentum_buffer.net.last_layer.weight"
// CHECK-NEXT: %[[KEPT:.*]] = kiln.select %[[GATE]], %{{.*}}, %{{.*}} : tensor<i1>, tensor<16xf32>, tensor<16xf32>
// CHECK-NEXT: %[[G:.*]]:2 = kiln.all_gather %{{.*}}, %[[KEPT]] {bucket = 1 : i64, bytes = 192 : i64, ranks = 2 : i64} : tensor<8xf32>, tensor<16xf32> -> tensor<4x4xf32>, tensor<8x4xf32>
// CHECK-NEXT: kiln.update_param "net.backbone.weight" %[[G]]#0 : tensor<4x4xf32>
// CHECK-NEXT: kiln.update_param "net.last_layer.weight" %[[G]]#1 : tensor<8x4xf32>
// CHECK-NOT: kiln.update_param
module attributes {kiln.ranks = 2 : i64, kiln.optimizer = {kind = "sgd", lr = 1.0e-01 : f64, momentum = 9.0e-01 : f64, freeze = [{match = "*last_layer*", epochs = 1 : i64}]}} {
  func.func @objective() {
    %w = kiln.param "net.backbone.weight" {init = {kind = "zeros"}} : tensor<4x4xf32>
    %h = kiln.param "net.last_layer.weight" {init = {kind = "zeros"}} : tensor<8x4xf32>
    %gw = kiln.input "gw" : tensor<4x4xf32>
    %gh = kiln.input "gh" : tensor<8x4xf32>
    %l = kiln.constant dense<0.0> : tensor<f32>
    kiln.loss %l : tensor<f32>
    %r:2 = kiln.all_reduce %gw, %gh {bucket = 0 : i64, bytes = 192 : i64, gradients} : tensor<4x4xf32>, tensor<8x4xf32>
    kiln.gradient "net.backbone.weight" %r#0 : tensor<4x4xf32>
    kiln.gradient "net.last_layer.weight" %r#1 : tensor<8x4xf32>
    return
  }
}
