//===- ParallelAxis.cpp - which axis a fusion region runs in parallel -----===//
#include "compiler/Transforms/ParallelAxis.h"

#include "Kiln/IR/KilnOps.h"

#include "llvm/ADT/TypeSwitch.h"

using namespace mlir;

namespace kiln {
namespace {

ArrayRef<int64_t> shape(Value v) { return cast<RankedTensorType>(v.getType()).getShape(); }

bool isElementwise(Operation *op) { return isElementwiseMap(op) || isa<BroadcastOp>(op); }


} // namespace

bool isFusible(Operation *op, std::string &whyNot) {
  if (isElementwise(op) ||
      isa<ReductionOpInterface, RowOpInterface, PoolOpInterface, ReshapeOp, TransposeOp,
          SliceOp, PadOp, ConcatOp, SplitOp, OneHotOp>(op))
    return true;
  whyNot = isa<MatmulOp>(op) ? "a GEMM runs in the BLAS library"
           : isa<Conv2dOp, Conv2dInputGradOp, Conv2dWeightGradOp>(op)
               ? "a convolution runs in the convolution library"
               : "'" + op->getName().getStringRef().str() + "' is not fusible";
  return false;
}

int64_t chooseParallelDim(Operation *op) {
  ArrayRef<int64_t> s = shape(op->getResult(0));
  // A row op's result keeps its row axis (argmax's has none).
  std::optional<int64_t> excluded;
  if (auto r = dyn_cast<RowOpInterface>(op); r && !isa<ArgmaxOp>(op))
    excluded = r.getRowAxis();
  int64_t best = -1;
  bool pool = isa<PoolOpInterface>(op); // windows span H and W
  for (int64_t d = 0; d < static_cast<int64_t>(s.size()); ++d) {
    if (s[d] < 2 || (excluded && *excluded == d) || (pool && d >= 2))
      continue;
    bool last = d == static_cast<int64_t>(s.size()) - 1;
    // Any axis but the last beats the last (rows are usually reduced along it).
    if (best < 0 || (!last && (s[d] > s[best] || best == (int64_t)s.size() - 1)))
      best = d;
  }
  return best;
}

std::optional<int64_t> resultParallelDim(Operation *op, ArrayRef<std::optional<int64_t>> operandDims,
                                         int64_t rows, std::string &whyNot) {
  if (rows == 1)
    return -1;
  // The operands from inside the region must agree on where the axis goes.
  std::optional<int64_t> result;
  auto agree = [&](int64_t q) {
    if (result && *result != q) {
      whyNot = "its operands carry the parallel axis at different places";
      return false;
    }
    result = q;
    return true;
  };
  int64_t rank = shape(op->getResult(0)).size();
  for (auto [index, d] : llvm::enumerate(operandDims)) {
    size_t i = index; // lambdas below read it (no binding captures before C++20)
    if (!d)
      continue;
    if (*d < 0) {
      whyNot = "mixes a single-iteration value into a parallel region";
      return std::nullopt;
    }
    int64_t p = *d;
    int64_t inRank = shape(op->getOperand(i)).size();
    bool ok = llvm::TypeSwitch<Operation *, bool>(op)
                  .Case([&](ReductionOpInterface r) {
                    ArrayRef<int64_t> axes = r.getReducedAxes();
                    if (llvm::is_contained(axes, p)) {
                      whyNot = "reduces along the parallel axis";
                      return false;
                    }
                    return agree(r.keepsReducedDims()
                                     ? p
                                     : p - llvm::count_if(axes, [&](int64_t a) { return a < p; }));
                  })
                  .Case([&](ArgmaxOp a) {
                    if (a.getAxis() == (uint64_t)p) {
                      whyNot = "reduces along the parallel axis";
                      return false;
                    }
                    return agree(p - ((int64_t)a.getAxis() < p ? 1 : 0));
                  })
                  .Case([&](RowOpInterface r) {
                    if (i == 0 && r.getRowAxis() == p) {
                      whyNot = "normalises along the parallel axis";
                      return false;
                    }
                    if (i != 0) { // a layer norm's scale or bias: one per column
                      whyNot = "its scale or bias is computed in the region";
                      return false;
                    }
                    return agree(p);
                  })
                  .Case([&](OneHotOp) { return agree(p); })
                  .Case([&](PoolOpInterface) {
                    if (p >= 2) {
                      whyNot = "pools along the parallel axis";
                      return false;
                    }
                    return agree(p);
                  })
                  .Case([&](ReshapeOp) {
                    ArrayRef<int64_t> in = shape(op->getOperand(0)), out = shape(op->getResult(0));
                    int64_t before = 1;
                    for (int64_t k = 0; k < p; ++k)
                      before *= in[k];
                    int64_t acc = 1;
                    for (int64_t q = 0; q < (int64_t)out.size(); ++q) {
                      if (acc == before && out[q] == in[p])
                        return agree(q);
                      acc *= out[q];
                    }
                    whyNot = "reshapes the parallel axis";
                    return false;
                  })
                  .Case([&](TransposeOp t) {
                    return agree(llvm::find(t.getPerm(), p) - t.getPerm().begin());
                  })
                  .Case([&](SliceOp s) {
                    if (s.getStarts()[p] != 0 || s.getStrides()[p] != 1 ||
                        s.getLimits()[p] != shape(s.getInput())[p]) {
                      whyNot = "slices along the parallel axis";
                      return false;
                    }
                    return agree(p);
                  })
                  .Case([&](PadOp pad) {
                    if (pad.getLow()[p] || pad.getHigh()[p] || pad.getInterior()[p]) {
                      whyNot = "pads along the parallel axis";
                      return false;
                    }
                    return agree(p);
                  })
                  .Case([&](ConcatOp c) {
                    if ((int64_t)c.getAxis() == p) {
                      whyNot = "concatenates along the parallel axis";
                      return false;
                    }
                    return agree(p);
                  })
                  .Case([&](SplitOp s) {
                    if ((int64_t)s.getAxis() == p) {
                      whyNot = "splits along the parallel axis";
                      return false;
                    }
                    return agree(p);
                  })
                  .Default([&](Operation *) { return agree(p + (rank - inRank)); });
    if (!ok)
      return std::nullopt;
  }
  if (!result) {
    whyNot = "reads nothing from the region";
    return std::nullopt;
  }
  for (Value r : op->getResults())
    if (*result >= (int64_t)shape(r).size() || shape(r)[*result] != rows) {
      whyNot = "its result does not keep the parallel axis";
      return std::nullopt;
    }
  return result;
}

int64_t singleOpParallelDim(Operation *op) {
  ArrayRef<int64_t> s = shape(op->getResult(0));
  int64_t first = chooseParallelDim(op);
  SmallVector<int64_t> candidates;
  for (int64_t d = 0; d < static_cast<int64_t>(s.size()); ++d)
    if (d != first && s[d] >= 2)
      candidates.push_back(d);
  llvm::stable_sort(candidates, [&](int64_t a, int64_t b) { return s[a] > s[b]; });
  if (first >= 0)
    candidates.insert(candidates.begin(), first);
  for (int64_t d : candidates) {
    SmallVector<std::optional<int64_t>> dims;
    for (unsigned i = 0; i < op->getNumOperands(); ++i) {
      int64_t q = operandParallelDim(op, i, d, s[d]);
      dims.push_back(q >= 0 ? std::optional<int64_t>(q) : std::nullopt);
    }
    std::string whyNot;
    bool broadcastOnly = llvm::all_of(dims, [](auto q) { return !q; });
    if (broadcastOnly ? isElementwise(op) : resultParallelDim(op, dims, s[d], whyNot) == d)
      return d;
  }
  return -1;
}

int64_t operandParallelDim(Operation *op, unsigned i, int64_t pr, int64_t rows) {
  if (rows == 1 || pr < 0)
    return -1;
  ArrayRef<int64_t> in = shape(op->getOperand(i)), out = shape(op->getResult(0));
  int64_t p = llvm::TypeSwitch<Operation *, int64_t>(op)
                  .Case([&](ReductionOpInterface r) -> int64_t {
                    if (in.size() == out.size())
                      return pr;
                    ArrayRef<int64_t> axes = r.getReducedAxes();
                    int64_t k = -1;
                    for (int64_t d = 0; d < (int64_t)in.size(); ++d)
                      if (!llvm::is_contained(axes, d) && ++k == pr)
                        return d;
                    return -1;
                  })
                  .Case([&](ArgmaxOp a) { return pr < (int64_t)a.getAxis() ? pr : pr + 1; })
                  .Case<RowOpInterface, OneHotOp>([&](Operation *) {
                    return i == 0 ? pr : -1; // a layer norm's scale and bias: per column
                  })
                  .Case([&](TransposeOp t) { return t.getPerm()[pr]; })
                  .Case([&](ReshapeOp) -> int64_t {
                    int64_t before = 1;
                    for (int64_t k = 0; k < pr; ++k)
                      before *= out[k];
                    int64_t acc = 1;
                    for (int64_t d = 0; d < (int64_t)in.size(); ++d) {
                      if (acc == before && in[d] == out[pr])
                        return d;
                      acc *= in[d];
                    }
                    return -1;
                  })
                  .Default([&](Operation *) {
                    return pr - (int64_t)(out.size() - in.size());
                  });
  return p >= 0 && p < (int64_t)in.size() && in[p] == rows ? p : -1;
}


} // namespace kiln
