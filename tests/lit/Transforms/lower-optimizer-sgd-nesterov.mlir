// RUN: kiln-opt %s --kiln-lower-optimizer | FileCheck %s

// SGD with coupled decay and Nesterov momentum: d = g + wd·p,
// buf' = μ·buf + d, p' = p - lr·(d + μ·buf').

// CHECK-DAG: %[[P:.*]] = kiln.param "w"
// CHECK-DAG: %[[G:.*]] = kiln.input "g"
// CHECK-DAG: %[[BUF:.*]] = kiln.state "optimizer.momentum_buffer.w"
// CHECK: %[[WDP:.*]] = kiln.mul %{{.*}}, %[[P]]
// CHECK: %[[D:.*]] = kiln.add %[[G]], %[[WDP]]
// CHECK: %[[MB:.*]] = kiln.mul %[[BUF]], %{{.*}}
// CHECK: %[[BUF1:.*]] = kiln.add %[[MB]], %[[D]]
// CHECK: %[[MB1:.*]] = kiln.mul %{{.*}}, %[[BUF1]]
// CHECK: %[[NEST:.*]] = kiln.add %[[D]], %[[MB1]]
// CHECK: %[[STEP:.*]] = kiln.mul %{{.*}}, %[[NEST]]
// CHECK: %[[NEXT:.*]] = kiln.sub %[[P]], %[[STEP]]
// CHECK: kiln.update_state "optimizer.momentum_buffer.w" %[[BUF1]]
// CHECK: kiln.update_param "w" %[[NEXT]]
module attributes {kiln.optimizer = {kind = "sgd", lr = 1.0e-01 : f64, weight_decay = 1.0e-04 : f64, momentum = 9.0e-01 : f64, nesterov = true}} {
  func.func @objective() {
    %w = kiln.param "w" {init = {kind = "zeros"}} : tensor<4xf32>
    %g = kiln.input "g" : tensor<4xf32>
    %wg = kiln.mul %w, %g : tensor<4xf32>, tensor<4xf32>
    %l = kiln.sum %wg {axes = array<i64: 0>} : tensor<4xf32>
    kiln.loss %l : tensor<f32>
    kiln.gradient "w" %g : tensor<4xf32>
    return
  }
}
