// RUN: kiln-opt %s --kiln-autodiff --canonicalize --cse --kiln-fuse | FileCheck %s

// Layer norm and its backward: the input gradient's chain (mean, centre,
// variance, rsqrt, the two row means of the gradient) is one region over
// the rows; the scale and bias gradients, summed over the rows, are
// reductions along the parallel axis and stay outside it.

// CHECK: kiln.loss
// CHECK: kiln.fusion({{.*}}) {rows = 6 : i64}
// CHECK-DAG: kiln.rsqrt {{.*}}kiln.parallel_dim = 0
// CHECK-DAG: kiln.mean {{.*}}axes = array<i64: 1>, keepdim = true, kiln.parallel_dim = 0
// CHECK: kiln.yield
// CHECK: kiln.output "gradient.x"
func.func @objective() {
  %x = kiln.param "x" {init = {kind = "zeros"}} : tensor<6x32xf32>
  %g = kiln.param "g" {init = {kind = "ones"}} : tensor<32xf32>
  %b = kiln.param "b" {init = {kind = "zeros"}} : tensor<32xf32>
  %r = kiln.input "r" : tensor<6x32xf32>
  %y = kiln.layer_norm %x, %g, %b {eps = 1.0e-06 : f64} : tensor<6x32xf32>, tensor<32xf32>, tensor<32xf32>
  %m = kiln.mul %y, %r : tensor<6x32xf32>, tensor<6x32xf32>
  %l = kiln.sum %m {axes = array<i64: 0, 1>} : tensor<6x32xf32>
  kiln.loss %l : tensor<f32>
  return
}
