// RUN: kiln-opt %s | kiln-opt | FileCheck %s
// Elementwise ops print and parse back; binary ops infer the broadcast shape.

// CHECK-LABEL: func @unary
func.func @unary(%x: tensor<4x8xf32>) {
  // CHECK: kiln.neg %{{.*}} : tensor<4x8xf32>
  %0 = kiln.neg %x : tensor<4x8xf32>
  // CHECK: kiln.exp
  %1 = kiln.exp %x : tensor<4x8xf32>
  // CHECK: kiln.log
  %2 = kiln.log %x : tensor<4x8xf32>
  // CHECK: kiln.sqrt
  %3 = kiln.sqrt %x : tensor<4x8xf32>
  // CHECK: kiln.rsqrt
  %4 = kiln.rsqrt %x : tensor<4x8xf32>
  // CHECK: kiln.tanh
  %5 = kiln.tanh %x : tensor<4x8xf32>
  // CHECK: kiln.sigmoid
  %6 = kiln.sigmoid %x : tensor<4x8xf32>
  // CHECK: kiln.relu
  %7 = kiln.relu %x : tensor<4x8xf32>
  // CHECK: kiln.abs
  %8 = kiln.abs %x : tensor<4x8xf32>
  // CHECK: kiln.floor
  %9 = kiln.floor %x : tensor<4x8xf32>
  // CHECK: kiln.gelu %{{.*}} : tensor<4x8xf32>
  %10 = kiln.gelu %x : tensor<4x8xf32>
  // CHECK: kiln.gelu %{{.*}} {approximate = "tanh"} : tensor<4x8xf32>
  %11 = kiln.gelu %x {approximate = "tanh"} : tensor<4x8xf32>
  // CHECK: kiln.stop_gradient %{{.*}} : tensor<4x8xf32>
  %12 = kiln.stop_gradient %x : tensor<4x8xf32>
  return
}

// CHECK-LABEL: func @binary
func.func @binary(%x: tensor<4x8xf32>, %b: tensor<8xf32>, %c: tensor<4x1xf32>, %s: tensor<f32>) -> tensor<4x8xf32> {
  // CHECK: kiln.add %{{.*}}, %{{.*}} : tensor<4x8xf32>, tensor<8xf32>
  %0 = kiln.add %x, %b : tensor<4x8xf32>, tensor<8xf32>
  // CHECK: kiln.sub %{{.*}}, %{{.*}} : tensor<4x1xf32>, tensor<8xf32>
  %1 = kiln.sub %c, %b : tensor<4x1xf32>, tensor<8xf32>
  // CHECK: kiln.mul
  %2 = kiln.mul %x, %s : tensor<4x8xf32>, tensor<f32>
  // CHECK: kiln.div
  %3 = kiln.div %x, %c : tensor<4x8xf32>, tensor<4x1xf32>
  // CHECK: kiln.pow
  %4 = kiln.pow %x, %s : tensor<4x8xf32>, tensor<f32>
  // CHECK: kiln.max
  %5 = kiln.max %x, %s : tensor<4x8xf32>, tensor<f32>
  // CHECK: kiln.min
  %6 = kiln.min %1, %x : tensor<4x8xf32>, tensor<4x8xf32>
  return %6 : tensor<4x8xf32>
}

// CHECK-LABEL: func @masks
func.func @masks(%x: tensor<4x8xf32>, %p: tensor<4xi32>, %l: tensor<4xi32>) -> tensor<4x8xf32> {
  // CHECK: kiln.compare "eq", %{{.*}}, %{{.*}} : tensor<4xi32>, tensor<4xi32>
  %hit = kiln.compare "eq", %p, %l : tensor<4xi32>, tensor<4xi32>
  // CHECK: kiln.cast %{{.*}} : tensor<4xi1> to tensor<4xf32>
  %f = kiln.cast %hit : tensor<4xi1> to tensor<4xf32>
  %f2 = kiln.reshape %f : tensor<4xf32> to tensor<4x1xf32>
  %m = kiln.compare "gt", %x, %f2 : tensor<4x8xf32>, tensor<4x1xf32>
  %z = kiln.constant dense<0.0> : tensor<f32>
  // CHECK: kiln.select %{{.*}}, %{{.*}}, %{{.*}} : tensor<4x8xi1>, tensor<4x8xf32>, tensor<f32>
  %r = kiln.select %m, %x, %z : tensor<4x8xi1>, tensor<4x8xf32>, tensor<f32>
  return %r : tensor<4x8xf32>
}
