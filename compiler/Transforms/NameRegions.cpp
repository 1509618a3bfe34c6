//===- NameRegions.cpp - a stable, descriptive name per kiln.fusion -------===//
//
// kiln-name-regions (Passes.td): `fusion_N_OPS_SHAPE`, N the region's place
// in the module, OPS its defining ops (row ops and reductions before
// elementwise ones), SHAPE its domain. Codegen names the region's kernel,
// thunk and output buffers after it, so one name leads from the IR to the
// kernel dumps, the manifest, profiles and run-time errors. Letters,
// digits and '_' only: the name is the kernel's symbol, also in PTX.
//
//===----------------------------------------------------------------------===//
#include "compiler/Transforms/FusionRegion.h"
#include "compiler/Transforms/Passes.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/StringExtras.h"

namespace kiln {
#define GEN_PASS_DEF_KILNNAMEREGIONS
#include "compiler/Transforms/Passes.h.inc"
} // namespace kiln

using namespace mlir;
using namespace kiln;

namespace {

/// Up to three op names: ops that read across elements (row ops,
/// reductions, shape and window ops) first, as they say what a region is;
/// views and constants never.
std::string describeOps(FusionOp f) {
  SmallVector<std::string> shaping, elementwise;
  f.getBody().walk([&](Operation *op) {
    if (isa<YieldOp, ConstantOp, ReshapeOp, StopGradientOp>(op))
      return;
    auto &list = isElementwiseMap(op) ? elementwise : shaping;
    std::string name = op->getName().stripDialect().str();
    if (!llvm::is_contained(list, name))
      list.push_back(name);
  });
  llvm::append_range(shaping, elementwise);
  shaping.resize(std::min<size_t>(shaping.size(), 3));
  return shaping.empty() ? "copy" : llvm::join(shaping, "_");
}

/// The largest tensor the body computes on (the region's domain).
std::string describeShape(FusionOp f) {
  RankedTensorType largest;
  auto consider = [&](Type t) {
    auto r = dyn_cast<RankedTensorType>(t);
    if (r && (!largest || r.getNumElements() > largest.getNumElements()))
      largest = r;
  };
  for (Value v : f.getBody().getArguments())
    consider(v.getType());
  f.getBody().walk([&](Operation *op) {
    for (Type t : op->getResultTypes())
      consider(t);
  });
  if (!largest || largest.getRank() == 0)
    return "scalar";
  std::string s;
  for (int64_t d : largest.getShape())
    s += (s.empty() ? "" : "x") + std::to_string(d);
  return s;
}

struct NameRegions : kiln::impl::KilnNameRegionsBase<NameRegions> {
  void runOnOperation() override {
    int64_t n = 0;
    getOperation().walk([&](FusionOp f) {
      std::string name = "fusion_" + std::to_string(n++) + "_" + describeOps(f) + "_" +
                         describeShape(f);
      f->setAttr(kRegionNameAttr, StringAttr::get(&getContext(), name));
    });
  }
};

} // namespace
