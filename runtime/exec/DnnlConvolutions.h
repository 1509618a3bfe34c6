//===- DnnlConvolutions.h - conv thunks on oneDNN's primitives ----*- C++ -*-===//
//
// oneDNN's direct convolutions on its blocked layouts (nChw8c, OIhw8i8o on
// AVX2), reordering kiln's NCHW buffers in and out on every call: 1.6×
// faster than im2col + OpenBLAS over ResNet-20's convolutions and 1.1×
// over ResNet-18's (docs/performance.md, bench/conv-libraries), except on
// 1-channel stems and 1×1 kernels, which `suits` leaves to im2col.
//
// bf16 passes run on the primitives' bf16 kernels (f32 accumulation; the
// weight gradient's blocked copy and partials f32, rounded once at the
// end) where oneDNN has them for this CPU (AVX512-BF16); elsewhere
// `run` returns false and the caller widens to f32.
//
// The images are split over kiln's threads and each thread runs
// single-threaded primitives on its share, as the im2col path does:
// Debian's oneDNN threads with OpenMP, whose spinning team would fight
// kiln's pool for the cores. The weight gradient is summed over the
// threads' partials in thread order, so a run is deterministic for a
// given thread count.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_RUNTIME_EXEC_DNNLCONVOLUTIONS_H
#define KILN_RUNTIME_EXEC_DNNLCONVOLUTIONS_H

#include "runtime/artifact/DType.h"
#include "runtime/artifact/Program.h"
#include "runtime/exec/ThreadPool.h"

#include <map>
#include <memory>
#include <vector>

namespace kiln {

class DnnlConvolutions {
public:
  DnnlConvolutions();
  ~DnnlConvolutions();

  /// Whether oneDNN runs this convolution (a kernel larger than 1×1 over
  /// 16 or more input channels per group, or depthwise over 16 or more).
  static bool suits(const ConvGeometry &g);

  /// One pass of `call` (see ConvCall) on tensors of element type `type`
  /// (f32 or bf16), its images over `pool`; false when oneDNN has no
  /// kernel for that type on this CPU (nothing was written).
  bool run(const ConvCall &call, DType type, void *input, void *weight, void *result,
           ThreadPool &pool);

private:
  struct Plan;
  /// The primitives of one pass over `images` images of `type`, made on
  /// first use; null when oneDNN cannot run it.
  Plan *plan(ConvCall::Pass pass, ConvGeometry g, int64_t images, DType type);
  std::unique_ptr<Plan> makePlan(ConvCall::Pass pass, const ConvGeometry &g, DType type);

  struct State;
  // The engine; per thread a stream and a slab for the blocked tensors,
  // the primitives' scratchpad and the weight gradient's partial sum.
  std::unique_ptr<State> state;
  std::map<std::vector<int64_t>, std::unique_ptr<Plan>> plans; // null: unsupported
};

} // namespace kiln

#endif // KILN_RUNTIME_EXEC_DNNLCONVOLUTIONS_H
