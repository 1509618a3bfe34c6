//===- CompressAllReduce.cpp - bf16 gradient all-reduce (kiln-compress-all-reduce) ===//
//
// The gradient buckets' kiln.all_reduce (or, sharded, kiln.reduce_scatter)
// with bf16 operands and results,
// cast from and back to f32 around it: what DDP's bf16_compress_hook does
// to the bucket, as IR, so that the casts fuse into the kernels that make
// the gradients and that apply them, and the runtime only moves bf16.
//
//===----------------------------------------------------------------------===//
#include "Kiln/IR/KilnDTypes.h"
#include "compiler/Transforms/Passes.h"
#include "compiler/Transforms/StepUtils.h"

namespace kiln {
#define GEN_PASS_DEF_KILNCOMPRESSALLREDUCE
#include "compiler/Transforms/Passes.h.inc"
} // namespace kiln

using namespace mlir;
using namespace kiln;

namespace {

struct CompressAllReduce : kiln::impl::KilnCompressAllReduceBase<CompressAllReduce> {
  using KilnCompressAllReduceBase::KilnCompressAllReduceBase;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    std::optional<DType> dtype = allReducePrecision(module, precision);
    if (!dtype)
      return signalPassFailure();
    if (*dtype == DType::F32)
      return;
    SmallVector<Operation *> buckets;
    module.walk([&](Operation *op) {
      if (isa<AllReduceOp, ReduceScatterOp>(op) && op->hasAttr("gradients"))
        buckets.push_back(op);
    });
    for (Operation *op : buckets)
      compress(op);
  }

private:
  /// `op` (a gradient bucket's all-reduce or reduce-scatter) on bf16
  /// operands, its results cast back to f32.
  void compress(Operation *op) {
    MLIRContext *context = &getContext();
    Type bf16 = BFloat16Type::get(context), f32 = Float32Type::get(context);
    OpBuilder b(op);
    SmallVector<Value> low;
    int64_t bytes = 0;
    for (Value v : op->getOperands()) {
      low.push_back(castTo(b, v, bf16, v));
      bytes += cast<RankedTensorType>(v.getType()).getNumElements() * elementBytes(DType::BF16);
    }
    Operation *compressed;
    if (auto r = dyn_cast<AllReduceOp>(op))
      compressed = b.create<AllReduceOp>(r.getLoc(), low, r.getBucketAttr(),
                                         b.getI64IntegerAttr(bytes), r.getGradientsAttr());
    else {
      auto s = cast<ReduceScatterOp>(op);
      compressed = b.create<ReduceScatterOp>(s.getLoc(), low, s.getBucketAttr(),
                                             b.getI64IntegerAttr(bytes), s.getRanksAttr(),
                                             s.getGradientsAttr());
    }
    for (auto [v, old, mean] :
         llvm::zip(op->getOperands(), op->getResults(), compressed->getResults())) {
      // Named after the gradient itself, not the f32 copy of a bf16 one.
      Value gradient = v;
      if (auto c = v.getDefiningOp<CastOp>())
        if (getElementTypeOrSelf(c.getInput().getType()) == bf16)
          gradient = c.getInput();
      old.replaceAllUsesWith(castTo(b, mean, f32, gradient));
    }
    op->erase();
  }
};

} // namespace
