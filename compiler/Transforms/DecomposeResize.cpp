//===- DecomposeResize.cpp - resize_bilinear as two GEMMs -----------------===//
//
// kiln-decompose-resize (Passes.td): y = R_h · x · R_wᵀ with constant
// interpolation matrices, so that codegen needs no kernel of its own for it.
//
//===----------------------------------------------------------------------===//
#include "compiler/Transforms/Passes.h"

#include "Kiln/IR/KilnBuilder.h"
#include "Kiln/IR/KilnOps.h"

namespace kiln {
#define GEN_PASS_DEF_KILNDECOMPOSERESIZE
#include "compiler/Transforms/Passes.h.inc"
} // namespace kiln

using namespace mlir;
using namespace kiln;

namespace {

struct DecomposeResize : kiln::impl::KilnDecomposeResizeBase<DecomposeResize> {
  void runOnOperation() override {
    SmallVector<ResizeBilinearOp> resizes;
    getOperation().walk([&](ResizeBilinearOp r) { resizes.push_back(r); });
    for (ResizeBilinearOp r : resizes) {
      OpBuilder b(r);
      KilnBuilder k(b, r.getLoc());
      auto in = cast<RankedTensorType>(r.getInput().getType()).getShape();
      auto out = cast<RankedTensorType>(r.getType()).getShape();
      int64_t h = in[in.size() - 2], w = in.back(), oh = out[out.size() - 2], ow = out.back();
      Value rh = k.constant({oh, h}, bilinearResizeMatrix(h, oh));
      Value rw = k.constant({ow, w}, bilinearResizeMatrix(w, ow));
      Value y = k.matmul(rh, k.matmul(r.getInput(), rw, false, true));
      r.replaceAllUsesWith(y);
      r.erase();
    }
  }
};

} // namespace
