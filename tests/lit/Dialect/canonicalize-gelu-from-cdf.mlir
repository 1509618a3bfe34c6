// RUN: kiln-opt %s -canonicalize | FileCheck %s
// gelu(x) becomes x·Φ(x) when the step also computes Φ(x) = 0.5·(1 +
// erf(x/√2)), as gelu's gradient does after it: erf then runs once.

// CHECK-LABEL: func.func @gelu_and_its_cdf
// CHECK-SAME: (%[[X:.*]]: tensor<4x8xf32>)
// CHECK: %[[S:.*]] = kiln.mul %[[X]], %{{.*}}
// CHECK-NEXT: %[[E:.*]] = kiln.erf %[[S]]
// CHECK-NEXT: %[[A:.*]] = kiln.add %[[E]], %{{.*}}
// CHECK-NEXT: %[[PHI:.*]] = kiln.mul %[[A]], %{{.*}}
// CHECK-NEXT: %[[Y:.*]] = kiln.mul %[[X]], %[[PHI]]
// CHECK-NOT: kiln.gelu
// CHECK-NOT: kiln.erf
// CHECK: return %[[Y]], %[[PHI]]
func.func @gelu_and_its_cdf(%x: tensor<4x8xf32>) -> (tensor<4x8xf32>, tensor<4x8xf32>) {
  %y = kiln.gelu %x : tensor<4x8xf32>
  %c = kiln.constant dense<0.707106769> : tensor<f32>
  %one = kiln.constant dense<1.0> : tensor<f32>
  %half = kiln.constant dense<0.5> : tensor<f32>
  %s = kiln.mul %x, %c : tensor<4x8xf32>, tensor<f32>
  %e = kiln.erf %s : tensor<4x8xf32>
  %a = kiln.add %e, %one : tensor<4x8xf32>, tensor<f32>
  %phi = kiln.mul %half, %a : tensor<f32>, tensor<4x8xf32>
  return %y, %phi : tensor<4x8xf32>, tensor<4x8xf32>
}

// Without Φ in the step (inference, the forward graph) gelu stays, as does
// the tanh form.
// CHECK-LABEL: func.func @gelu_alone
// CHECK: kiln.gelu
// CHECK: kiln.gelu {{.*}}approximate = "tanh"
func.func @gelu_alone(%x: tensor<4x8xf32>) -> (tensor<4x8xf32>, tensor<4x8xf32>) {
  %y = kiln.gelu %x : tensor<4x8xf32>
  %t = kiln.gelu %x {approximate = "tanh"} : tensor<4x8xf32>
  return %y, %t : tensor<4x8xf32>, tensor<4x8xf32>
}
