//===- FusionRegion.cpp - build a kiln.fusion from a set of ops -----------===//
#include "compiler/Transforms/FusionRegion.h"
#include "compiler/Transforms/ParallelAxis.h"

#include "mlir/IR/IRMapping.h"
#include "llvm/ADT/SetVector.h"
#include "llvm/ADT/SmallPtrSet.h"

using namespace mlir;

namespace kiln {

static bool isScalarConstant(Value v) {
  auto c = v.getDefiningOp<ConstantOp>();
  return c && cast<RankedTensorType>(c.getType()).getNumElements() == 1;
}

FusionOp buildFusion(ArrayRef<Operation *> ops, int64_t rows,
                     const llvm::DenseMap<Value, int64_t> &parallelDim) {
  llvm::SmallPtrSet<Operation *, 16> members(ops.begin(), ops.end());
  llvm::SetVector<Value> inputs, outputs;
  for (Operation *op : ops) {
    for (Value v : op->getOperands())
      if (!members.count(v.getDefiningOp()) && !isScalarConstant(v))
        inputs.insert(v);
    for (Value res : op->getResults())
      if (llvm::any_of(res.getUsers(), [&](Operation *u) { return !members.count(u); }))
        outputs.insert(res);
  }
  Operation *last = ops.back();
  OpBuilder b(last->getContext());
  b.setInsertionPointAfter(last);
  SmallVector<Type> types;
  for (Value v : outputs)
    types.push_back(v.getType());
  auto fusion = b.create<FusionOp>(last->getLoc(), types, inputs.getArrayRef());
  fusion->setAttr("rows", b.getI64IntegerAttr(rows));
  Block *body = new Block();
  fusion.getBody().push_back(body);
  IRMapping map;
  for (Value v : inputs)
    map.map(v, body->addArgument(v.getType(), v.getLoc()));
  OpBuilder inner = OpBuilder::atBlockEnd(body);
  for (Operation *op : ops) {
    for (Value v : op->getOperands())
      if (isScalarConstant(v) && !map.contains(v))
        map.map(v, inner.clone(*v.getDefiningOp())->getResult(0));
    Operation *copy = inner.clone(*op, map);
    auto dim = parallelDim.find(op->getResult(0));
    copy->setAttr(kParallelDimAttr,
                  inner.getI64IntegerAttr(dim == parallelDim.end() ? -1 : dim->second));
  }
  SmallVector<Value> yielded;
  for (Value v : outputs)
    yielded.push_back(map.lookup(v));
  inner.create<YieldOp>(fusion.getLoc(), yielded);
  for (auto [i, v] : llvm::enumerate(outputs)) {
    Value out = v;
    out.replaceUsesWithIf(fusion.getResult(i),
                          [&](OpOperand &use) { return !members.count(use.getOwner()); });
  }
  for (Operation *op : llvm::reverse(ops))
    op->erase();
  return fusion;
}

} // namespace kiln
