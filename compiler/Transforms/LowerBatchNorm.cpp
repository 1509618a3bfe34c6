//===- LowerBatchNorm.cpp - batch_norm as reductions and maps -------------===//
//
// kiln-lower-batch-norm (Passes.td): each kiln.batch_norm becomes per-channel
// means over every axis but 1, elementwise normalisation and the running
// statistics' update; with `sync`, the batch mean and variance pass through
// a kiln.all_reduce each. Autodiff then derives the backward (whose
// all-reduces of the matching sums come from the all-reduce's own gradient
// rule) and kiln-fuse makes each direction a few per-channel regions.
//
//===----------------------------------------------------------------------===//
#include "compiler/Transforms/Passes.h"

#include "Kiln/IR/KilnBuilder.h"
#include "Kiln/IR/KilnOps.h"

#include "mlir/IR/BuiltinOps.h"

namespace kiln {
#define GEN_PASS_DEF_KILNLOWERBATCHNORM
#include "compiler/Transforms/Passes.h.inc"
} // namespace kiln

using namespace mlir;
using namespace kiln;

namespace {

struct LowerBatchNorm : kiln::impl::KilnLowerBatchNormBase<LowerBatchNorm> {
  void runOnOperation() override {
    // The importer records the data-parallel world the step is built for.
    auto module = getOperation()->getParentOfType<ModuleOp>();
    auto ranksAttr = module ? module->getAttrOfType<IntegerAttr>("kiln.ranks") : nullptr;
    int64_t ranks = ranksAttr ? ranksAttr.getInt() : 1;
    SmallVector<BatchNormOp> norms;
    getOperation().walk([&](BatchNormOp bn) { norms.push_back(bn); });
    for (BatchNormOp bn : norms) {
      OpBuilder b(bn);
      KilnBuilder k(b, bn.getLoc());
      Value x = bn.getInput();
      ArrayRef<int64_t> shape = cast<RankedTensorType>(x.getType()).getShape();
      int64_t channels = shape[1];
      // [1, C, 1, ...]: a per-channel value broadcast against x.
      SmallVector<int64_t> perChannel(shape.size(), 1), axes;
      perChannel[1] = channels;
      for (int64_t d = 0; d < (int64_t)shape.size(); ++d)
        if (d != 1)
          axes.push_back(d);
      auto spread = [&](Value v) { return k.reshape(v, perChannel); };
      auto flat = [&](Value v) { return k.reshape(v, {channels}); };
      Value mean, var, centred;
      Value updatedMean = bn.getRunningMean(), updatedVar = bn.getRunningVar();
      if (bn.getTraining()) {
        mean = k.mean(x, axes, /*keepdim=*/true);
        if (bn.getSync())
          mean = k.allReduce(mean).getResult(0);
        centred = k.sub(x, mean);
        var = k.mean(k.mul(centred, centred), axes, /*keepdim=*/true);
        if (bn.getSync())
          var = k.allReduce(var).getResult(0);
        // The running variance is unbiased over the batch the statistics
        // came from: the global one when synchronised.
        double m = bn.getMomentum().convertToDouble();
        double count = double(cast<RankedTensorType>(x.getType()).getNumElements() / channels) *
                       double(bn.getSync() ? ranks : 1);
        updatedMean = k.add(k.mul(bn.getRunningMean(), k.scalar(1 - m)),
                            k.mul(flat(mean), k.scalar(m)));
        updatedVar = k.add(k.mul(bn.getRunningVar(), k.scalar(1 - m)),
                           k.mul(flat(var), k.scalar(m * count / (count - 1))));
      } else {
        centred = k.sub(x, spread(bn.getRunningMean()));
        var = spread(bn.getRunningVar());
      }
      Value rstd = k.rsqrt(k.add(var, k.scalar(bn.getEps().convertToDouble())));
      Value y = k.add(k.mul(k.mul(centred, rstd), spread(bn.getScale())), spread(bn.getBias()));
      bn.getResult().replaceAllUsesWith(y);
      bn.getUpdatedMean().replaceAllUsesWith(updatedMean);
      bn.getUpdatedVar().replaceAllUsesWith(updatedVar);
      bn.erase();
    }
  }
};

} // namespace
