// RUN: kiln-opt %s --kiln-lower-optimizer | FileCheck %s

// AdamW as PyTorch's single-tensor loop: decoupled decay p·(1 - lr·wd), the
// moments as state named after PyTorch's keys, bias corrections from the
// step count after its increment (1 - β^t = -expm1(t·ln β)).

// CHECK-DAG: %[[P:.*]] = kiln.param "net.w"
// CHECK-DAG: %[[G:.*]] = kiln.input "x"
// CHECK-DAG: %[[LR:.*]] = kiln.schedule "lr"
// CHECK-DAG: %[[STEP:.*]] = kiln.state "optimizer.step" {init = {kind = "zeros"}} : tensor<f32>
// CHECK-DAG: %[[M:.*]] = kiln.state "optimizer.exp_avg.net.w" {init = {kind = "zeros"}} : tensor<3x4xf32>
// CHECK-DAG: %[[V:.*]] = kiln.state "optimizer.exp_avg_sq.net.w" {init = {kind = "zeros"}} : tensor<3x4xf32>
// CHECK: kiln.loss
// CHECK: %[[T:.*]] = kiln.add %[[STEP]], %{{.*}} : tensor<f32>, tensor<f32>
// CHECK: %[[LRWD:.*]] = kiln.mul %[[LR]], %{{.*}} : tensor<f32>, tensor<f32>
// CHECK: %[[KEEP:.*]] = kiln.sub %{{.*}}, %[[LRWD]]
// CHECK: %[[DECAYED:.*]] = kiln.mul %[[P]], %[[KEEP]]
// CHECK: %[[GM:.*]] = kiln.sub %[[G]], %[[M]]
// CHECK: %[[M1:.*]] = kiln.add %[[M]], %{{.*}}
// CHECK: kiln.expm1
// CHECK: %[[NEXT:.*]] = kiln.sub %[[DECAYED]], %{{.*}} : tensor<3x4xf32>, tensor<3x4xf32>
// CHECK: kiln.update_state "optimizer.step" %[[T]] : tensor<f32>
// CHECK: kiln.update_state "optimizer.exp_avg.net.w" %[[M1]]
// CHECK: kiln.update_state "optimizer.exp_avg_sq.net.w"
// CHECK: kiln.update_param "net.w" %[[NEXT]] : tensor<3x4xf32>
// CHECK-NOT: kiln.gradient
module attributes {kiln.optimizer = {kind = "adamw", lr = "lr", weight_decay = 5.000000e-02 : f64, betas = [9.000000e-01, 9.990000e-01], eps = 1.000000e-08 : f64}} {
  func.func @objective() {
    %w = kiln.param "net.w" {init = {kind = "zeros"}} : tensor<3x4xf32>
    %x = kiln.input "x" : tensor<3x4xf32>
    %lr = kiln.schedule "lr" {spec = {kind = "constant", value = 1.0e-03 : f64}} : tensor<f32>
    %wx = kiln.mul %w, %x : tensor<3x4xf32>, tensor<3x4xf32>
    %l = kiln.sum %wx {axes = array<i64: 0, 1>} : tensor<3x4xf32>
    kiln.loss %l : tensor<f32>
    kiln.gradient "net.w" %x : tensor<3x4xf32>
    return
  }
}
