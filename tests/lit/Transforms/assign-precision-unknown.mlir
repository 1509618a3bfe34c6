// RUN: not kiln-opt %s --kiln-assign-precision=precision=fp8 2>&1 | FileCheck %s

// CHECK: error: unknown precision 'fp8' (f32, bf16 or fp16)
module {
}
