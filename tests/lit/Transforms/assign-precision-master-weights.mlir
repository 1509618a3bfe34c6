// RUN: kiln-opt %s --kiln-assign-precision --cse | FileCheck %s

// The precision comes from the graph's train section. The parameter stays
// f32 (the master weight, updated in f32); its bf16 copy is made once and
// read by both GEMMs; the gradient and the update are f32.

// CHECK: %[[W:.*]] = kiln.param "w" {{.*}} : tensor<4x4xf32>
// CHECK: %[[WL:.*]] = kiln.cast %[[W]] : tensor<4x4xf32> to tensor<4x4xbf16>
// CHECK-NOT: kiln.cast %[[W]]
// CHECK: kiln.matmul %{{.*}}, %[[WL]] : tensor<2x4xbf16>, tensor<4x4xbf16>
// CHECK: %[[DX:.*]] = kiln.matmul %{{.*}}, %[[WL]] {transpose_rhs = true} : tensor<2x4xbf16>, tensor<4x4xbf16>
// CHECK: %[[DXF:.*]] = kiln.cast %[[DX]] : tensor<2x4xbf16> to tensor<2x4xf32>
// CHECK: kiln.gradient "x" %[[DXF]] : tensor<2x4xf32>
// CHECK: %[[NEW:.*]] = kiln.sub %[[W]], %{{.*}} : tensor<4x4xf32>, tensor<4x4xf32>
// CHECK: kiln.update_param "w" %[[NEW]] : tensor<4x4xf32>
module attributes {kiln.train = {precision = "bf16"}} {
  func.func @objective() {
    %x = kiln.input "x" : tensor<2x4xf32>
    %dy = kiln.input "dy" : tensor<2x4xf32>
    %step = kiln.input "step" : tensor<4x4xf32>
    %w = kiln.param "w" {init = {kind = "zeros"}} : tensor<4x4xf32>
    %y = kiln.matmul %x, %w : tensor<2x4xf32>, tensor<4x4xf32>
    %l = kiln.sum %y {axes = array<i64: 0, 1>} : tensor<2x4xf32>
    kiln.loss %l : tensor<f32>
    %dx = kiln.matmul %dy, %w {transpose_rhs = true} : tensor<2x4xf32>, tensor<4x4xf32>
    kiln.gradient "x" %dx : tensor<2x4xf32>
    %new = kiln.sub %w, %step : tensor<4x4xf32>, tensor<4x4xf32>
    kiln.update_param "w" %new : tensor<4x4xf32>
    return
  }
}
