// RUN: kiln-opt %s --kiln-compress-all-reduce='precision=bf16' --mlir-print-debuginfo | FileCheck %s
// RUN: kiln-opt %s --kiln-compress-all-reduce | FileCheck %s --check-prefix=F32

// The gradient bucket goes over the wire in bf16, half the bytes: the f32
// gradient is cast down, the one a bf16 GEMM made (cast up for the sinks)
// is sent as it was made. The mean comes back to f32 for the sinks, each
// cast named after its gradient. The statistics bucket (the loss) stays
// f32. Without the option or train.all_reduce_precision nothing changes.

// CHECK: %[[GW:.*]] = kiln.matmul {{.*}} : tensor<4x8xbf16>, tensor<4x8xbf16>
// CHECK: %[[GB:.*]] = kiln.sum
// CHECK: %[[GB16:.*]] = kiln.cast %[[GB]] : tensor<8xf32> to tensor<8xbf16> loc(#[[BF16B:loc[0-9]*]])
// CHECK-NEXT: %[[R:.*]]:2 = kiln.all_reduce %[[GW]], %[[GB16]] {bucket = 0 : i64, bytes = 144 : i64, gradients} : tensor<8x8xbf16>, tensor<8xbf16>
// CHECK-NEXT: %[[W:.*]] = kiln.cast %[[R]]#0 : tensor<8x8xbf16> to tensor<8x8xf32> loc(#[[F32W:loc[0-9]*]])
// CHECK-NEXT: %[[B:.*]] = kiln.cast %[[R]]#1 : tensor<8xbf16> to tensor<8xf32> loc(#[[F32B:loc[0-9]*]])
// CHECK: kiln.all_reduce %{{.*}} {bucket = 1 : i64, bytes = 4 : i64} : tensor<f32> loc(
// CHECK: kiln.gradient "w" %[[W]]
// CHECK: kiln.gradient "b" %[[B]]
// CHECK-DAG: #[[BF16B]] = loc("bf16(grad(b))"
// CHECK-DAG: #[[F32B]] = loc("f32(grad(b))"
// CHECK-DAG: #[[F32W]] = loc("f32(grad(w))"

// F32: kiln.all_reduce %{{.*}}, %{{.*}} {bucket = 0 : i64, bytes = 288 : i64, gradients} : tensor<8x8xf32>, tensor<8xf32>
// F32-NOT: kiln.cast
func.func @objective() {
  %x32 = kiln.input "x" : tensor<4x8xf32>
  %x = kiln.cast %x32 : tensor<4x8xf32> to tensor<4x8xbf16>
  %w = kiln.param "w" {init = {kind = "zeros"}} : tensor<8x8xf32>
  %b = kiln.param "b" {init = {kind = "zeros"}} : tensor<8xf32>
  %d = kiln.input "d" : tensor<4x8xf32>
  %l = kiln.input "l" : tensor<f32>
  %gw16 = kiln.matmul %x, %x {transpose_lhs = true} : tensor<4x8xbf16>, tensor<4x8xbf16> loc("grad(w)")
  %gw = kiln.cast %gw16 : tensor<8x8xbf16> to tensor<8x8xf32> loc("f32(grad(w))")
  %gb = kiln.sum %d {axes = array<i64: 0>} : tensor<4x8xf32> loc("grad(b)")
  %r:2 = kiln.all_reduce %gw, %gb {bucket = 0 : i64, bytes = 288 : i64, gradients} : tensor<8x8xf32>, tensor<8xf32>
  %rl = kiln.all_reduce %l {bucket = 1 : i64, bytes = 4 : i64} : tensor<f32>
  kiln.loss %rl : tensor<f32>
  kiln.gradient "w" %r#0 : tensor<8x8xf32>
  kiln.gradient "b" %r#1 : tensor<8xf32>
  return
}
