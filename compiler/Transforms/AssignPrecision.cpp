//===- AssignPrecision.cpp - autocast-like element types for the step -----===//
//
// kiln-assign-precision (Passes.td): with precision bf16 or fp16, GEMMs
// and convolutions take low-precision operands and give a low-precision
// result; what
// follows a low-precision value stays low while every float operand is
// (views, pools, elementwise arithmetic); exp, log and the like, row ops,
// reductions, collectives and every sink take f32. Casts are inserted
// where the two meet. Master parameters, optimizer state and the update
// stay f32: a parameter's low copy is one cast, which CSE shares between
// the forward GEMM and the backward ones.
//
//===----------------------------------------------------------------------===//
#include "compiler/Transforms/Passes.h"
#include "compiler/Transforms/StepUtils.h"

#include "Kiln/IR/KilnDTypes.h"
#include "Kiln/IR/KilnOps.h"

namespace kiln {
#define GEN_PASS_DEF_KILNASSIGNPRECISION
#include "compiler/Transforms/Passes.h.inc"
} // namespace kiln

using namespace mlir;
using namespace kiln;

namespace {

/// Ops that run in the low precision (f32 accumulation inside): GEMMs and
/// convolutions, forward and backward.
bool computesLow(Operation *op) {
  return isa<MatmulOp, Conv2dOp, Conv2dInputGradOp, Conv2dWeightGradOp>(op);
}

/// Ops whose result is low when their float operands are: they move or
/// combine values without the range or cancellation problems of exp, log,
/// powers, normalisations and sums (autocast's "promote" class).
bool followsOperands(Operation *op) {
  if (isa<ExpOp, ExpM1Op, LogOp, SqrtOp, RsqrtOp, PowOp, ErfOp>(op))
    return false;
  return isElementwiseMap(op) ||
         isa<ReshapeOp, TransposeOp, BroadcastOp, SliceOp, ConcatOp, SplitOp, PadOp,
             PoolOpInterface, MaxPool2dGradOp, AvgPool2dGradOp>(op);
}

bool isFloat(Value v) { return isa<FloatType>(getElementTypeOrSelf(v.getType())); }

/// `v` as `elem`; a view's (a GEMM's operand reshaped to rows) as the view
/// of its input's cast, the same values: that cast fuses into the region
/// making the input, which then writes the narrow type only, and CSE shares
/// it with other casts of the input.
Value castOfView(OpBuilder &b, Value v, Type elem) {
  auto r = v.getDefiningOp<ReshapeOp>();
  if (!r || getElementTypeOrSelf(v.getType()) == elem)
    return castTo(b, v, elem, v);
  Value in = castOfView(b, r.getInput(), elem);
  auto type = RankedTensorType::get(cast<RankedTensorType>(v.getType()).getShape(), elem);
  return b.create<ReshapeOp>(r.getLoc(), type, in);
}

/// A constant adapts to the other operands, as a Python scalar does under
/// autocast.
bool isWeak(Value v) { return v.getDefiningOp<ConstantOp>() != nullptr; }

struct KilnAssignPrecision : kiln::impl::KilnAssignPrecisionBase<KilnAssignPrecision> {
  using KilnAssignPrecisionBase::KilnAssignPrecisionBase;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    std::optional<DType> d = stepPrecision(module, precision);
    if (!d)
      return signalPassFailure();
    if (*d == DType::F32)
      return;
    low = mlirElementType(*d, &getContext());
    module.walk([&](func::FuncOp f) {
      for (Operation &op : llvm::make_early_inc_range(f.getBody().getOps()))
        assign(&op);
    });
  }

  void assign(Operation *op) {
    Type f32 = Float32Type::get(op->getContext());
    SmallVector<OpOperand *> floats;
    for (OpOperand &o : op->getOpOperands())
      if (isFloat(o.get()))
        floats.push_back(&o);
    if (floats.empty() || isa<ConstantOp, CastOp>(op))
      return;
    bool runsLow = computesLow(op);
    if (!runsLow && followsOperands(op)) {
      bool anyStrong = false, allLow = true;
      for (OpOperand *o : floats)
        if (!isWeak(o->get())) {
          anyStrong = true;
          allLow &= getElementTypeOrSelf(o->get().getType()) == low;
        }
      runsLow = anyStrong && allLow;
    }
    Type elem = runsLow ? low : f32;
    OpBuilder b(op);
    for (OpOperand *o : floats) {
      Value v = o->get();
      o->set(castOfView(b, v, elem));
      if (auto r = v.getDefiningOp<ReshapeOp>(); r && r->use_empty())
        r.erase();
    }
    if (runsLow)
      for (OpResult r : op->getResults())
        if (isFloat(r))
          r.setType(RankedTensorType::get(cast<RankedTensorType>(r.getType()).getShape(), low));
  }

  Type low;
};

} // namespace
