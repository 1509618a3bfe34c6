//===- CompressAllReduce.cpp - bf16 gradient all-reduce (kiln-compress-all-reduce) ===//
//
// The gradient buckets' kiln.all_reduce with bf16 operands and results,
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
    MLIRContext *context = &getContext();
    Type bf16 = BFloat16Type::get(context), f32 = Float32Type::get(context);
    SmallVector<AllReduceOp> buckets;
    module.walk([&](AllReduceOp r) {
      if (r.getGradients())
        buckets.push_back(r);
    });
    for (AllReduceOp r : buckets) {
      OpBuilder b(r);
      SmallVector<Value> low;
      int64_t bytes = 0;
      for (Value v : r.getValues()) {
        low.push_back(castTo(b, v, bf16, v));
        bytes += cast<RankedTensorType>(v.getType()).getNumElements() * elementBytes(DType::BF16);
      }
      auto compressed = b.create<AllReduceOp>(r.getLoc(), low, r.getBucketAttr(),
                                              b.getI64IntegerAttr(bytes), r.getGradientsAttr());
      for (auto [v, old, mean] : llvm::zip(r.getValues(), r.getResults(), compressed.getResults())) {
        // Named after the gradient itself, not the f32 copy of a bf16 one.
        Value gradient = v;
        if (auto c = v.getDefiningOp<CastOp>())
          if (getElementTypeOrSelf(c.getInput().getType()) == bf16)
            gradient = c.getInput();
        old.replaceAllUsesWith(castTo(b, mean, f32, gradient));
      }
      r.erase();
    }
  }
};

} // namespace
