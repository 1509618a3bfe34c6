//===- SingleOpRegions.cpp - an op alone in a kiln.fusion -----------------===//
//
// kiln-single-op-regions (Passes.td): what kiln-fuse left outside regions
// goes into a region of its own, so that codegen emits every loop kernel
// through the fused body and each op's kernel is written once.
//
//===----------------------------------------------------------------------===//
#include "compiler/Transforms/FusionRegion.h"
#include "compiler/Transforms/ParallelAxis.h"
#include "compiler/Transforms/Passes.h"

namespace kiln {
#define GEN_PASS_DEF_KILNSINGLEOPREGIONS
#include "compiler/Transforms/Passes.h.inc"
} // namespace kiln

using namespace mlir;
using namespace kiln;

namespace {

struct SingleOpRegions : kiln::impl::KilnSingleOpRegionsBase<SingleOpRegions> {
  void runOnOperation() override {
    SmallVector<Operation *> ops;
    for (Operation &op : getOperation().getBody().front()) {
      std::string whyNot;
      if (isFusible(&op, whyNot) && !isa<ReshapeOp, StopGradientOp>(op))
        ops.push_back(&op);
    }
    for (Operation *op : ops) {
      int64_t dim = singleOpParallelDim(op);
      int64_t rows = dim < 0 ? 1 : cast<RankedTensorType>(op->getResult(0).getType()).getDimSize(dim);
      llvm::DenseMap<Value, int64_t> parallelDim;
      for (Value r : op->getResults())
        parallelDim[r] = dim;
      buildFusion(op, rows, parallelDim);
    }
  }
};

} // namespace
