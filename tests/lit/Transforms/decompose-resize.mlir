// RUN: kiln-opt %s --kiln-decompose-resize | FileCheck %s

// resize_bilinear [.., 7, 7] -> [.., 3, 3] becomes x · R_wᵀ, then R_h · (..):
// two GEMMs with constant [3, 7] interpolation matrices. Output i samples
// (i + 0.5) · 7/3 - 0.5 = 2/3, 3, 16/3: weights 1/3, 2/3 at 0, 1; 1 at 3;
// 2/3, 1/3 at 5, 6 (align_corners = false).

// CHECK-NOT: kiln.resize_bilinear
// CHECK-DAG: %[[RH:.*]] = kiln.constant dense<{{\[\[}}0.333333343, 0.666666686, 0.000000e+00, 0.000000e+00, 0.000000e+00, 0.000000e+00, 0.000000e+00], [0.000000e+00, 0.000000e+00, 0.000000e+00, 1.000000e+00, 0.000000e+00, 0.000000e+00, 0.000000e+00], [0.000000e+00, 0.000000e+00, 0.000000e+00, 0.000000e+00, 0.000000e+00, 0.666666686, 0.333333343]]> : tensor<3x7xf32>
// CHECK-DAG: %[[RW:.*]] = kiln.constant dense<{{.*}}> : tensor<3x7xf32>
// CHECK: %[[XW:.*]] = kiln.matmul %{{.*}}, %[[RW]] {{{.*}}transpose_rhs = true{{.*}}} : tensor<1x4x7x7xf32>, tensor<3x7xf32>
// CHECK: %[[Y:.*]] = kiln.matmul %[[RH]], %[[XW]] : tensor<3x7xf32>, tensor<1x4x7x3xf32>
// CHECK: kiln.output "y" %[[Y]] : tensor<1x4x3x3xf32>
func.func @objective() {
  %x = kiln.input "x" : tensor<1x4x7x7xf32>
  %y = kiln.resize_bilinear %x {size = array<i64: 3, 3>} : tensor<1x4x7x7xf32>
  kiln.output "y" %y : tensor<1x4x3x3xf32>
  return
}
