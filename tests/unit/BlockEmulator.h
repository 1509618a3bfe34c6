//===- BlockEmulator.h - GPU kernels run on the CPU, a block at a time -*- C++ -*-===//
//
// The CUDA backend's kernels (buildGpuKernels: gpu.funcs whose folds are
// already warp shuffles, shared memory and barriers) rewritten to call an
// emulator for thread and block ids, gpu.barrier and gpu.shuffle, lowered
// as the CPU kernels are, and JIT-compiled. A block's threads are fibers on
// one OS thread; each runs until it waits (at a barrier, or at a shuffle
// for its warp) or ends, and the schedule picks which runnable thread goes
// next. The schedules are adversarial orders of a real block's freedom: a
// thread, or a whole warp, may run arbitrarily far ahead of the others up
// to the next barrier. A missing barrier then shows as a wrong result
// (a write another thread had not yet made, or already overwrote), and
// threads waiting at different barriers or a shuffle no lane can complete
// as an error.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_TESTS_BLOCKEMULATOR_H
#define KILN_TESTS_BLOCKEMULATOR_H

#include "KernelJit.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/OwningOpRef.h"

#include <cstdint>
#include <memory>
#include <string>

namespace kiln::test {

/// Every gpu.func of `container`'s gpu.module as a func.func of the same
/// name and signature in a new module (the bodies are moved out of
/// `container`), with gpu.thread_id, block_id, block_dim, grid_dim,
/// barrier and xor shuffles as calls to the emulator and 1-D workgroup
/// memory taken from it. Null with `error` naming what it does not handle.
mlir::OwningOpRef<mlir::ModuleOp> emulatedKernels(mlir::ModuleOp container, std::string &error);

/// The emulator's functions emulatedKernels' calls go to, for KernelJit.
std::vector<JitSymbol> emulatorSymbols();

/// How a block's runnable threads are ordered.
enum class Schedule {
  Ascending,  // the lowest thread id first: warp 0 runs ahead
  Descending, // the highest first: the last warp runs ahead
  Random,     // uniformly among the runnable, from a seed
};

/// A GPU kernel `k(void **buffers, int64 rows, char *workspace)`.
using GpuKernelFn = void (*)(void **, int64_t, char *);

/// Runs block `block` of a `blocks`-block grid of kernel `fn` with
/// `threads` threads (a multiple of 32) under `schedule`. False with
/// `error` on a deadlock (threads at different barriers, a shuffle its
/// warp never completes) or a shuffle a GPU leaves undefined (a lane
/// outside its width, a member lane that ended, widths that disagree).
bool runBlock(GpuKernelFn fn, void **buffers, int64_t rows, char *workspace, int64_t block,
              int64_t blocks, int threads, Schedule schedule, uint64_t seed, std::string &error);

} // namespace kiln::test

#endif // KILN_TESTS_BLOCKEMULATOR_H
