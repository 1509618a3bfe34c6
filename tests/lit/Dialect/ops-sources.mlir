// RUN: kiln-opt %s | kiln-opt | FileCheck %s
// Graph sources and sinks print and parse back.

// CHECK-LABEL: func @sources_and_sinks
func.func @sources_and_sinks() {
  // CHECK: kiln.input "image" {source = "train_view"} : tensor<8x1x28x28xf32>
  %x = kiln.input "image" {source = "train_view"} : tensor<8x1x28x28xf32>
  // CHECK: kiln.input "label" : tensor<8xi32>
  %y = kiln.input "label" : tensor<8xi32>
  // CHECK: kiln.param "net.w" {init = {kind = "trunc_normal", std = 2.000000e-02 : f64}} : tensor<10x64xf32>
  %w = kiln.param "net.w" {init = {kind = "trunc_normal", std = 2.0e-02 : f64}} : tensor<10x64xf32>
  // CHECK: kiln.param "teacher.w" {ema_of = "net.w", init = {from = "net.w", kind = "copy"}} : tensor<10x64xf32>
  %t = kiln.param "teacher.w" {ema_of = "net.w", init = {from = "net.w", kind = "copy"}} : tensor<10x64xf32>
  // CHECK: kiln.param "kd.w" {frozen, init = {kind = "file", path = "t.safetensors", tensor = "w"}} : tensor<10x64xf32>
  %f = kiln.param "kd.w" {frozen, init = {kind = "file", path = "t.safetensors", tensor = "w"}} : tensor<10x64xf32>
  // CHECK: kiln.state "center" {init = {kind = "zeros"}} : tensor<1x16xf32>
  %c = kiln.state "center" {init = {kind = "zeros"}} : tensor<1x16xf32>
  // CHECK: kiln.schedule "lr" {spec = {base = 1.000000e-03 : f64, final = 0.000000e+00 : f64, kind = "warmup_cosine"}} : tensor<f32>
  %lr = kiln.schedule "lr" {spec = {base = 1.0e-03 : f64, final = 0.0 : f64, kind = "warmup_cosine"}} : tensor<f32>
  // CHECK: kiln.constant dense<5.000000e-01> : tensor<f32>
  %h = kiln.constant dense<0.5> : tensor<f32>
  // CHECK: kiln.random_uniform {stream = 3 : i64} : tensor<8x1x1xf32>
  %u = kiln.random_uniform {stream = 3 : i64} : tensor<8x1x1xf32>
  // CHECK: kiln.loss %{{.*}} : tensor<f32>
  kiln.loss %lr : tensor<f32>
  // CHECK: kiln.metric "half" %{{.*}} : tensor<f32>
  kiln.metric "half" %h : tensor<f32>
  // CHECK: kiln.update_state "center" %{{.*}} : tensor<1x16xf32>
  kiln.update_state "center" %c : tensor<1x16xf32>
  return
}
