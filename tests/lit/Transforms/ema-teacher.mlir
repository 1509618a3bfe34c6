// RUN: kiln-opt %s --kiln-ema-teacher | FileCheck %s

// The teacher follows the student's value after the optimizer step, with
// the network's scheduled momentum: T' = T·m + (1 - m)·S'.

// CHECK-DAG: %[[T:.*]] = kiln.param "teacher.w"
// CHECK-DAG: %[[M:.*]] = kiln.schedule "teacher_momentum"
// CHECK-DAG: %[[S1:.*]] = kiln.input "student_next"
// CHECK: kiln.update_param "student.w" %[[S1]]
// CHECK-DAG: %[[TM:.*]] = kiln.mul %[[T]], %[[M]]
// CHECK-DAG: %[[ONE_M:.*]] = kiln.sub %{{.*}}, %[[M]]
// CHECK-DAG: %[[SM:.*]] = kiln.mul %[[ONE_M]], %[[S1]]
// CHECK: %[[NEXT:.*]] = kiln.add %[[TM]], %[[SM]]
// CHECK: kiln.update_param "teacher.w" %[[NEXT]]
module attributes {kiln.networks = {student = {module = "m"}, teacher = {module = "m", ema_of = "student", momentum = "teacher_momentum"}}} {
  func.func @objective() {
    %s = kiln.param "student.w" {init = {kind = "zeros"}} : tensor<4xf32>
    %t = kiln.param "teacher.w" {ema_of = "student.w", init = {from = "student.w", kind = "copy"}} : tensor<4xf32>
    %m = kiln.schedule "teacher_momentum" {spec = {base = 9.960000e-01 : f64, final = 1.0 : f64, kind = "warmup_cosine"}} : tensor<f32>
    %s1 = kiln.input "student_next" : tensor<4xf32>
    %l = kiln.constant dense<0.0> : tensor<f32>
    kiln.loss %l : tensor<f32>
    kiln.update_param "student.w" %s1 : tensor<4xf32>
    return
  }
}
