//===- KilnOps.cpp - kiln op verifiers and shape inference ----------------===//
//
// Same order as KilnOps.td. Inference functions check operand count and
// required attributes first, so that the JSON importer can build any op
// generically and a malformed graph gets a message instead of a crash.
//
//===----------------------------------------------------------------------===//
#include "Kiln/IR/KilnOps.h"
#include "Kiln/IR/KilnLocations.h"

#include "runtime/artifact/Kinds.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/OpImplementation.h"
#include "llvm/ADT/StringSwitch.h"

#include <array>

using namespace mlir;
using namespace kiln;

/// The name `op`'s results print under: its `name` attribute (a param, a
/// region), else its node's; "" if neither. SSA names keep letters, digits
/// and $._-: "grad(a.b)" prints grad.a.b.
static std::string printedName(Operation *op) {
  std::string name;
  if (auto attr = op->getAttrOfType<StringAttr>("name"))
    name = attr.str();
  else if (NameLoc node = nodeName(op->getLoc()))
    name = node.getName().str();
  std::string printed;
  for (char c : name)
    if (c != ')')
      printed += (c == '(' || c == ' ') ? '.' : c;
  return printed;
}

void kiln::nameResultsAfterNode(Operation *op, OpAsmSetValueNameFn setNameFn) {
  if (op->getNumResults() == 0)
    return;
  if (std::string name = printedName(op); !name.empty())
    setNameFn(op->getResult(0), name);
}

void kiln::nameArgumentsAfterInputs(Operation *op, Region &region,
                                    OpAsmSetValueNameFn setNameFn) {
  if (region.empty() || region.getNumArguments() != op->getNumOperands())
    return;
  for (auto [arg, input] : llvm::zip(region.getArguments(), op->getOperands()))
    if (Operation *def = input.getDefiningOp())
      if (std::string name = printedName(def); !name.empty())
        setNameFn(arg, "in." + name);
}

//===----------------------------------------------------------------------===//
// Helpers
//===----------------------------------------------------------------------===//

namespace {

/// Operand count, then the attribute constraints ODS knows about.
template <typename OpTy>
FailureOr<typename OpTy::Adaptor>
adapt(MLIRContext *ctx, std::optional<Location> loc, ValueRange operands,
      DictionaryAttr attrs, OpaqueProperties props, RegionRange regions,
      size_t count) {
  StringRef name = OpTy::getOperationName();
  if (failed(expectOperands(name, loc, operands, count)))
    return failure();
  typename OpTy::Adaptor adaptor(operands, attrs, props, regions);
  if (failed(adaptor.verify(loc ? *loc : UnknownLoc::get(ctx))))
    return failure();
  return adaptor;
}

RankedTensorType tensorOf(Value v) { return cast<RankedTensorType>(v.getType()); }

// Adaptor getters do not apply ODS default values (MLIR 19), so inference
// reads defaulted attributes through these.
bool boolOr(DictionaryAttr attrs, StringRef name, bool fallback) {
  auto a = attrs ? attrs.getAs<BoolAttr>(name) : nullptr;
  return a ? a.getValue() : fallback;
}
double floatOr(DictionaryAttr attrs, StringRef name, double fallback) {
  auto a = attrs ? attrs.getAs<FloatAttr>(name) : nullptr;
  return a ? a.getValueAsDouble() : fallback;
}

/// Checks `dict` ("init" or "spec" of `op`) against the table of kinds.
LogicalResult verifyKindDict(Operation *op, StringRef what, DictionaryAttr dict,
                             const std::vector<DictKind> &kinds) {
  auto kindAttr = dict.getAs<StringAttr>("kind");
  if (!kindAttr)
    return op->emitOpError() << "'" << what << "' needs a string 'kind'";
  const DictKind *spec = findKind(kinds, kindAttr.getValue());
  if (!spec) {
    std::string known;
    for (const DictKind &k : kinds)
      known += (known.empty() ? "" : ", ") + std::string(k.kind);
    return op->emitOpError() << "unknown " << what << " kind '"
                             << kindAttr.getValue() << "' (known: " << known
                             << ")";
  }
  for (NamedAttribute entry : dict) {
    StringRef key = entry.getName().getValue();
    if (key == "kind")
      continue;
    const DictKey *keySpec = spec->key(key);
    if (!keySpec)
      return op->emitOpError() << what << " kind '" << spec->kind
                               << "' takes no key '" << key << "'";
    bool ok = keySpec->type == KeyType::Number
                  ? isa<FloatAttr, IntegerAttr>(entry.getValue())
              : keySpec->type == KeyType::String ? isa<StringAttr>(entry.getValue())
                                            : isa<BoolAttr>(entry.getValue());
    if (!ok)
      return op->emitOpError()
             << what << " key '" << key << "' must be a "
             << (keySpec->type == KeyType::Number   ? "number"
                 : keySpec->type == KeyType::String ? "string"
                                               : "bool");
  }
  for (const DictKey &k : spec->keys)
    if (k.required && !dict.get(k.name))
      return op->emitOpError() << what << " kind '" << spec->kind
                               << "' needs key '" << k.name << "'";
  return success();
}

} // namespace

//===----------------------------------------------------------------------===//
// Graph sources
//===----------------------------------------------------------------------===//

LogicalResult ParamOp::verify() {
  if (failed(verifyKindDict(*this, "init", getInit(), kInitKinds)))
    return failure();
  auto kind = getInit().getAs<StringAttr>("kind").getValue();
  if (getEmaOf() && kind != "copy")
    return emitOpError() << "an 'ema_of' parameter must start as a copy of "
                            "its source, got init kind '"
                         << kind << "'";
  if (getEmaOf() && getFrozen())
    return emitOpError() << "a parameter cannot be both 'frozen' and 'ema_of'";
  return success();
}

LogicalResult StateOp::verify() {
  if (failed(verifyKindDict(*this, "init", getInit(), kInitKinds)))
    return failure();
  if (getInit().getAs<StringAttr>("kind").getValue() == "copy")
    return emitOpError() << "state cannot be initialised as a copy";
  if (bool(getShardOf()) != bool(getShards()))
    return emitOpError("a sharded state gives both 'shard_of' and 'shards'");
  if (std::optional<ArrayRef<int64_t>> shape = getShardOf()) {
    int64_t whole = 1;
    for (int64_t d : *shape)
      whole *= d;
    auto type = cast<RankedTensorType>(getType());
    int64_t chunk = (whole + *getShards() - 1) / std::max<int64_t>(*getShards(), 1);
    if (*getShards() < 1 || type.getRank() != 1 || type.getNumElements() != chunk)
      return emitOpError() << "a shard of " << whole << " elements over " << *getShards()
                           << " ranks is tensor<" << chunk << "xf32>, not " << type;
  }
  return success();
}

SmallVector<int64_t> StateOp::wholeShape() {
  if (auto whole = getShardOf())
    return SmallVector<int64_t>(whole->begin(), whole->end());
  return SmallVector<int64_t>(cast<RankedTensorType>(getType()).getShape());
}

LogicalResult ScheduleOp::verify() {
  if (failed(verifyKindDict(*this, "schedule", getSpec(), kScheduleKinds)))
    return failure();
  // A warmup's length is given one way.
  bool epochs = bool(getSpec().get("warmup_epochs")),
       fraction = bool(getSpec().get("warmup_fraction"));
  if (epochs && fraction)
    return emitOpError("give 'warmup_epochs' or 'warmup_fraction', not both");
  if (getSpec().getAs<StringAttr>("kind").getValue() == "epoch_linear_warmup" && !epochs && !fraction)
    return emitOpError("schedule kind 'epoch_linear_warmup' needs 'warmup_epochs' or 'warmup_fraction'");
  return success();
}

OpFoldResult ConstantOp::fold(FoldAdaptor) { return getValue(); }

//===----------------------------------------------------------------------===//
// Elementwise
//===----------------------------------------------------------------------===//

LogicalResult GeluOp::verify() {
  if (getApproximate() != "none" && getApproximate() != "tanh")
    return emitOpError() << "approximate must be \"none\" or \"tanh\", got \""
                         << getApproximate() << "\"";
  return success();
}

LogicalResult CompareOp::inferReturnTypes(MLIRContext *ctx,
                                          std::optional<Location> loc,
                                          ValueRange operands,
                                          DictionaryAttr attrs,
                                          OpaqueProperties props,
                                          RegionRange regions,
                                          SmallVectorImpl<Type> &inferred) {
  auto adaptor = adapt<CompareOp>(ctx, loc, operands, attrs, props, regions, 2);
  if (failed(adaptor))
    return failure();
  return inferBroadcast(getOperationName(), loc, operands, {"lhs", "rhs"},
                        IntegerType::get(ctx, 1), inferred);
}

LogicalResult CompareOp::verify() {
  if (!llvm::is_contained({"eq", "ne", "lt", "le", "gt", "ge"}, getPredicate()))
    return emitOpError() << "predicate must be one of eq, ne, lt, le, gt, ge; "
                            "got \""
                         << getPredicate() << "\"";
  if (getLhs().getType().getElementType() != getRhs().getType().getElementType())
    return emitOpError() << "operands 'lhs' (" << typeString(getLhs().getType())
                         << ") and 'rhs' (" << typeString(getRhs().getType())
                         << ") have different element types";
  return success();
}

LogicalResult SelectOp::inferReturnTypes(MLIRContext *ctx,
                                         std::optional<Location> loc,
                                         ValueRange operands, DictionaryAttr,
                                         OpaqueProperties, RegionRange,
                                         SmallVectorImpl<Type> &inferred) {
  if (failed(expectOperands(getOperationName(), loc, operands, 3)))
    return failure();
  if (tensorOf(operands[1]).getElementType() != tensorOf(operands[2]).getElementType())
    return emitOptionalError(loc, "'", getOperationName(), "' op 'on_true' (",
                             typeString(tensorOf(operands[1])), ") and 'on_false' (",
                             typeString(tensorOf(operands[2])),
                             ") have different element types");
  return inferBroadcast(getOperationName(), loc, operands,
                        {"condition", "on_true", "on_false"},
                        tensorOf(operands[1]).getElementType(), inferred);
}

//===----------------------------------------------------------------------===//
// Reductions
//===----------------------------------------------------------------------===//

LogicalResult ArgmaxOp::inferReturnTypes(MLIRContext *ctx,
                                         std::optional<Location> loc,
                                         ValueRange operands,
                                         DictionaryAttr attrs,
                                         OpaqueProperties props,
                                         RegionRange regions,
                                         SmallVectorImpl<Type> &inferred) {
  auto adaptor = adapt<ArgmaxOp>(ctx, loc, operands, attrs, props, regions, 1);
  if (failed(adaptor))
    return failure();
  auto input = tensorOf(operands[0]);
  int64_t axis = adaptor->getAxis();
  if (failed(checkAxis(getOperationName(), loc, "axis", axis, input)))
    return failure();
  SmallVector<int64_t> shape(input.getShape());
  shape.erase(shape.begin() + axis);
  inferred.push_back(RankedTensorType::get(shape, IntegerType::get(ctx, 32)));
  return success();
}

//===----------------------------------------------------------------------===//
// Shape ops
//===----------------------------------------------------------------------===//

LogicalResult ReshapeOp::verify() {
  auto in = getInput().getType(), out = getResult().getType();
  if (in.getNumElements() != out.getNumElements())
    return emitOpError() << "cannot reshape " << typeString(in) << " ("
                         << in.getNumElements() << " elements) to "
                         << typeString(out) << " (" << out.getNumElements()
                         << " elements)";
  if (in.getElementType() != out.getElementType())
    return emitOpError() << "reshape keeps the element type: "
                         << typeString(in) << " to " << typeString(out);
  return success();
}

LogicalResult TransposeOp::inferReturnTypes(MLIRContext *ctx,
                                            std::optional<Location> loc,
                                            ValueRange operands,
                                            DictionaryAttr attrs,
                                            OpaqueProperties props,
                                            RegionRange regions,
                                            SmallVectorImpl<Type> &inferred) {
  auto adaptor = adapt<TransposeOp>(ctx, loc, operands, attrs, props, regions, 1);
  if (failed(adaptor))
    return failure();
  auto input = tensorOf(operands[0]);
  ArrayRef<int64_t> perm = adaptor->getPerm();
  SmallVector<bool> seen(input.getRank(), false);
  bool valid = (int64_t)perm.size() == input.getRank();
  for (int64_t p : perm) {
    valid = valid && p >= 0 && p < input.getRank() && !seen[p];
    if (valid)
      seen[p] = true;
  }
  if (!valid)
    return emitOptionalError(loc, "'", getOperationName(), "' op perm ",
                             listString(perm), " is not a permutation of the ",
                             input.getRank(), " dimensions of input ",
                             typeString(input));
  SmallVector<int64_t> shape;
  for (int64_t p : perm)
    shape.push_back(input.getDimSize(p));
  inferred.push_back(RankedTensorType::get(shape, input.getElementType()));
  return success();
}

LogicalResult BroadcastOp::inferReturnTypes(MLIRContext *ctx,
                                            std::optional<Location> loc,
                                            ValueRange operands,
                                            DictionaryAttr attrs,
                                            OpaqueProperties props,
                                            RegionRange regions,
                                            SmallVectorImpl<Type> &inferred) {
  auto adaptor = adapt<BroadcastOp>(ctx, loc, operands, attrs, props, regions, 1);
  if (failed(adaptor))
    return failure();
  auto input = tensorOf(operands[0]);
  ArrayRef<int64_t> target = adaptor->getShape();
  SmallVector<int64_t> out;
  if (!broadcastShapes(input.getShape(), target, out) ||
      ArrayRef<int64_t>(out) != target)
    return emitOptionalError(loc, "'", getOperationName(), "' op input ",
                             typeString(input), " does not broadcast to shape ",
                             listString(target));
  inferred.push_back(RankedTensorType::get(target, input.getElementType()));
  return success();
}

LogicalResult SliceOp::inferReturnTypes(MLIRContext *ctx,
                                        std::optional<Location> loc,
                                        ValueRange operands,
                                        DictionaryAttr attrs,
                                        OpaqueProperties props,
                                        RegionRange regions,
                                        SmallVectorImpl<Type> &inferred) {
  auto adaptor = adapt<SliceOp>(ctx, loc, operands, attrs, props, regions, 1);
  if (failed(adaptor))
    return failure();
  auto input = tensorOf(operands[0]);
  ArrayRef<int64_t> starts = adaptor->getStarts(), limits = adaptor->getLimits(),
                    strides = adaptor->getStrides();
  int64_t rank = input.getRank();
  if ((int64_t)starts.size() != rank || (int64_t)limits.size() != rank ||
      (int64_t)strides.size() != rank)
    return emitOptionalError(loc, "'", getOperationName(), "' op starts ",
                             listString(starts), ", limits ", listString(limits),
                             " and strides ", listString(strides),
                             " need one entry per dimension of input ",
                             typeString(input));
  SmallVector<int64_t> shape;
  for (int64_t d = 0; d < rank; ++d) {
    if (starts[d] < 0 || limits[d] > input.getDimSize(d) ||
        starts[d] >= limits[d] || strides[d] < 1)
      return emitOptionalError(
          loc, "'", getOperationName(), "' op dimension ", d, ": [", starts[d],
          ", ", limits[d], ") step ", strides[d],
          " is not a non-empty range inside input ", typeString(input));
    shape.push_back((limits[d] - starts[d] + strides[d] - 1) / strides[d]);
  }
  inferred.push_back(RankedTensorType::get(shape, input.getElementType()));
  return success();
}

LogicalResult ConcatOp::inferReturnTypes(MLIRContext *ctx,
                                         std::optional<Location> loc,
                                         ValueRange operands,
                                         DictionaryAttr attrs,
                                         OpaqueProperties props,
                                         RegionRange regions,
                                         SmallVectorImpl<Type> &inferred) {
  auto adaptor = adapt<ConcatOp>(ctx, loc, operands, attrs, props, regions, 0);
  if (failed(adaptor))
    return failure();
  auto first = tensorOf(operands[0]);
  int64_t axis = adaptor->getAxis();
  if (failed(checkAxis(getOperationName(), loc, "axis", axis, first)))
    return failure();
  SmallVector<int64_t> shape(first.getShape());
  for (auto [i, v] : llvm::enumerate(operands.drop_front())) {
    auto t = tensorOf(v);
    bool ok = t.getRank() == first.getRank() &&
              t.getElementType() == first.getElementType();
    for (int64_t d = 0; ok && d < first.getRank(); ++d)
      ok = d == axis || t.getDimSize(d) == first.getDimSize(d);
    if (!ok)
      return emitOptionalError(loc, "'", getOperationName(), "' op input ",
                               i + 1, " (", typeString(t),
                               ") does not match input 0 (", typeString(first),
                               ") outside axis ", axis);
    shape[axis] += t.getDimSize(axis);
  }
  inferred.push_back(RankedTensorType::get(shape, first.getElementType()));
  return success();
}

LogicalResult SplitOp::inferReturnTypes(MLIRContext *ctx,
                                        std::optional<Location> loc,
                                        ValueRange operands,
                                        DictionaryAttr attrs,
                                        OpaqueProperties props,
                                        RegionRange regions,
                                        SmallVectorImpl<Type> &inferred) {
  auto adaptor = adapt<SplitOp>(ctx, loc, operands, attrs, props, regions, 1);
  if (failed(adaptor))
    return failure();
  auto input = tensorOf(operands[0]);
  int64_t axis = adaptor->getAxis();
  if (failed(checkAxis(getOperationName(), loc, "axis", axis, input)))
    return failure();
  ArrayRef<int64_t> sizes = adaptor->getSizes();
  int64_t total = 0;
  for (int64_t s : sizes)
    total += s < 1 ? input.getDimSize(axis) + 1 : s; // forces the error below
  if (sizes.empty() || total != input.getDimSize(axis))
    return emitOptionalError(loc, "'", getOperationName(), "' op sizes ",
                             listString(sizes),
                             " must be positive and add up to dimension ", axis,
                             " of input ", typeString(input));
  for (int64_t s : sizes) {
    SmallVector<int64_t> shape(input.getShape());
    shape[axis] = s;
    inferred.push_back(RankedTensorType::get(shape, input.getElementType()));
  }
  return success();
}

LogicalResult PadOp::inferReturnTypes(MLIRContext *ctx,
                                      std::optional<Location> loc,
                                      ValueRange operands, DictionaryAttr attrs,
                                      OpaqueProperties props,
                                      RegionRange regions,
                                      SmallVectorImpl<Type> &inferred) {
  auto adaptor = adapt<PadOp>(ctx, loc, operands, attrs, props, regions, 1);
  if (failed(adaptor))
    return failure();
  auto input = tensorOf(operands[0]);
  ArrayRef<int64_t> low = adaptor->getLow(), high = adaptor->getHigh(),
                    interior = adaptor->getInterior();
  int64_t rank = input.getRank();
  if ((int64_t)low.size() != rank || (int64_t)high.size() != rank ||
      (int64_t)interior.size() != rank ||
      llvm::any_of(llvm::concat<const int64_t>(low, high, interior),
                   [](int64_t v) { return v < 0; }))
    return emitOptionalError(loc, "'", getOperationName(), "' op low ",
                             listString(low), ", high ", listString(high),
                             " and interior ", listString(interior),
                             " need one non-negative entry per dimension of "
                             "input ",
                             typeString(input));
  SmallVector<int64_t> shape;
  for (int64_t d = 0; d < rank; ++d) {
    int64_t n = input.getDimSize(d);
    shape.push_back(low[d] + n + (n - 1) * interior[d] + high[d]);
  }
  inferred.push_back(RankedTensorType::get(shape, input.getElementType()));
  return success();
}

//===----------------------------------------------------------------------===//
// Contraction
//===----------------------------------------------------------------------===//

LogicalResult MatmulOp::inferReturnTypes(MLIRContext *ctx,
                                         std::optional<Location> loc,
                                         ValueRange operands,
                                         DictionaryAttr attrs,
                                         OpaqueProperties props,
                                         RegionRange regions,
                                         SmallVectorImpl<Type> &inferred) {
  auto adaptor = adapt<MatmulOp>(ctx, loc, operands, attrs, props, regions, 2);
  if (failed(adaptor))
    return failure();
  auto lhs = tensorOf(operands[0]), rhs = tensorOf(operands[1]);
  if (lhs.getRank() < 2 || rhs.getRank() < 2)
    return emitOptionalError(loc, "'", getOperationName(),
                             "' op operands need rank >= 2, got lhs ",
                             typeString(lhs), " and rhs ", typeString(rhs));
  auto dims = [](RankedTensorType t, bool transposed) {
    int64_t r = t.getRank();
    int64_t rows = t.getDimSize(r - 2), cols = t.getDimSize(r - 1);
    return transposed ? std::make_pair(cols, rows) : std::make_pair(rows, cols);
  };
  bool transposeLhs = boolOr(attrs, "transpose_lhs", false);
  bool transposeRhs = boolOr(attrs, "transpose_rhs", false);
  auto [m, kl] = dims(lhs, transposeLhs);
  auto [kr, n] = dims(rhs, transposeRhs);
  if (kl != kr)
    return emitOptionalError(
        loc, "'", getOperationName(), "' op contracting dimension of lhs (",
        kl, ") does not match rhs (", kr, "): lhs ", typeString(lhs),
        transposeLhs ? " transposed" : "", ", rhs ", typeString(rhs),
        transposeRhs ? " transposed" : "");
  SmallVector<int64_t> batch;
  if (!broadcastShapes(lhs.getShape().drop_back(2), rhs.getShape().drop_back(2),
                       batch))
    return emitOptionalError(loc, "'", getOperationName(),
                             "' op batch dimensions of lhs ", typeString(lhs),
                             " and rhs ", typeString(rhs), " do not broadcast");
  batch.push_back(m);
  batch.push_back(n);
  inferred.push_back(RankedTensorType::get(batch, lhs.getElementType()));
  return success();
}

//===----------------------------------------------------------------------===//
// Convolution
//===----------------------------------------------------------------------===//

namespace {

/// An array attribute of `attrs`, or its ODS default. (Inference reads the
/// dictionary: a default-valued attribute the text leaves out is not in
/// it, and the adaptor's getter would read a null attribute.)
ArrayRef<int64_t> arrayOr(DictionaryAttr attrs, StringRef name, ArrayRef<int64_t> fallback) {
  auto a = attrs ? attrs.getAs<DenseI64ArrayAttr>(name) : nullptr;
  return a ? a.asArrayRef() : fallback;
}
int64_t groupsOf(DictionaryAttr attrs) {
  auto a = attrs ? attrs.getAs<IntegerAttr>("groups") : nullptr;
  return a ? a.getInt() : 1;
}

/// The geometry of a convolution op from its attributes, given the input's
/// and the weight's shapes (the gradient ops know one of them only from an
/// attribute).
LogicalResult geometryOf(StringRef name, std::optional<Location> loc, DictionaryAttr attrs,
                         ArrayRef<int64_t> input, ArrayRef<int64_t> weight, ConvGeometry &g) {
  static const int64_t one[] = {1, 1}, zero[] = {0};
  return convGeometry(name, loc, input, weight, arrayOr(attrs, "strides", one),
                      arrayOr(attrs, "padding", zero), arrayOr(attrs, "dilation", one),
                      groupsOf(attrs), g);
}

/// Fails unless `got` (the shape of operand `what`) is the convolution's.
LogicalResult expectShape(StringRef name, std::optional<Location> loc, StringRef what,
                          ArrayRef<int64_t> got, ArrayRef<int64_t> want) {
  if (got == want)
    return success();
  return emitOptionalError(loc, "'", name, "' op ", what, " is ", listString(got),
                           ", the convolution's is ", listString(want));
}

SmallVector<int64_t> resultShape(const ConvGeometry &g) { return {g.n, g.o, g.ho, g.wo}; }

/// The input's [N, C] and the kernel's or the input's two spatial sizes
/// from an attribute that must have two entries.
FailureOr<SmallVector<int64_t>> withSpatial(StringRef name, std::optional<Location> loc,
                                            StringRef attr, int64_t d0, int64_t d1,
                                            ArrayRef<int64_t> spatial) {
  if (spatial.size() != 2 || spatial[0] < 1 || spatial[1] < 1)
    return emitOptionalError(loc, "'", name, "' op '", attr, "' needs two positive entries, got ",
                             listString(spatial));
  return SmallVector<int64_t>{d0, d1, spatial[0], spatial[1]};
}

} // namespace

LogicalResult Conv2dOp::inferReturnTypes(MLIRContext *ctx, std::optional<Location> loc,
                                         ValueRange operands, DictionaryAttr attrs,
                                         OpaqueProperties props, RegionRange regions,
                                         SmallVectorImpl<Type> &inferred) {
  auto adaptor = adapt<Conv2dOp>(ctx, loc, operands, attrs, props, regions, 2);
  ConvGeometry g;
  if (failed(adaptor) || failed(geometryOf(getOperationName(), loc, attrs,
                                           tensorOf(operands[0]).getShape(),
                                           tensorOf(operands[1]).getShape(), g)))
    return failure();
  inferred.push_back(RankedTensorType::get(resultShape(g), tensorOf(operands[0]).getElementType()));
  return success();
}

LogicalResult Conv2dInputGradOp::inferReturnTypes(MLIRContext *ctx, std::optional<Location> loc,
                                                  ValueRange operands, DictionaryAttr attrs,
                                                  OpaqueProperties props, RegionRange regions,
                                                  SmallVectorImpl<Type> &inferred) {
  auto adaptor = adapt<Conv2dInputGradOp>(ctx, loc, operands, attrs, props, regions, 2);
  if (failed(adaptor))
    return failure();
  ArrayRef<int64_t> dy = tensorOf(operands[0]).getShape(), w = tensorOf(operands[1]).getShape();
  if (dy.size() != 4 || w.size() != 4)
    return emitOptionalError(loc, "'", getOperationName(),
                             "' op needs an [N, O, Ho, Wo] gradient and an [O, C/groups, KH, KW] "
                             "weight");
  auto input = withSpatial(getOperationName(), loc, "input_size", dy[0],
                           w[1] * groupsOf(attrs), arrayOr(attrs, "input_size", {}));
  ConvGeometry g;
  if (failed(input) || failed(geometryOf(getOperationName(), loc, attrs, *input, w, g)) ||
      failed(expectShape(getOperationName(), loc, "the result's gradient", dy, resultShape(g))))
    return failure();
  inferred.push_back(RankedTensorType::get(*input, tensorOf(operands[0]).getElementType()));
  return success();
}

LogicalResult Conv2dWeightGradOp::inferReturnTypes(MLIRContext *ctx, std::optional<Location> loc,
                                                   ValueRange operands, DictionaryAttr attrs,
                                                   OpaqueProperties props, RegionRange regions,
                                                   SmallVectorImpl<Type> &inferred) {
  auto adaptor = adapt<Conv2dWeightGradOp>(ctx, loc, operands, attrs, props, regions, 2);
  if (failed(adaptor))
    return failure();
  ArrayRef<int64_t> x = tensorOf(operands[0]).getShape(), dy = tensorOf(operands[1]).getShape();
  if (x.size() != 4 || dy.size() != 4 || groupsOf(attrs) < 1)
    return emitOptionalError(loc, "'", getOperationName(),
                             "' op needs an [N, C, H, W] input and an [N, O, Ho, Wo] gradient");
  auto weight = withSpatial(getOperationName(), loc, "kernel_size", dy[1],
                            x[1] / groupsOf(attrs), arrayOr(attrs, "kernel_size", {}));
  ConvGeometry g;
  if (failed(weight) || failed(geometryOf(getOperationName(), loc, attrs, x, *weight, g)) ||
      failed(expectShape(getOperationName(), loc, "the result's gradient", dy, resultShape(g))))
    return failure();
  inferred.push_back(RankedTensorType::get(*weight, tensorOf(operands[0]).getElementType()));
  return success();
}

ConvGeometry Conv2dOp::getGeometry() {
  ConvGeometry g;
  (void)convGeometry(getOperationName(), std::nullopt, tensorOf(getInput()).getShape(), tensorOf(getWeight()).getShape(),
                     getStrides(), getPadding(), getDilation(), getGroups(), g);
  return g;
}

ConvGeometry Conv2dInputGradOp::getGeometry() {
  ConvGeometry g;
  ArrayRef<int64_t> dy = tensorOf(getResultGrad()).getShape(), w = tensorOf(getWeight()).getShape();
  auto input = withSpatial(getOperationName(), std::nullopt, "input_size", dy[0],
                           w[1] * getGroups(), getInputSize());
  (void)convGeometry(getOperationName(), std::nullopt, *input, w, getStrides(), getPadding(),
                     getDilation(), getGroups(), g);
  return g;
}

ConvGeometry Conv2dWeightGradOp::getGeometry() {
  ConvGeometry g;
  ArrayRef<int64_t> x = tensorOf(getInput()).getShape(), dy = tensorOf(getResultGrad()).getShape();
  auto weight = withSpatial(getOperationName(), std::nullopt, "kernel_size", dy[1],
                            x[1] / getGroups(), getKernelSize());
  (void)convGeometry(getOperationName(), std::nullopt, x, *weight, getStrides(), getPadding(),
                     getDilation(), getGroups(), g);
  return g;
}

//===----------------------------------------------------------------------===//
// Pooling
//===----------------------------------------------------------------------===//

namespace {

/// A pool's geometry from its attributes and its input's shape.
LogicalResult poolGeometryOf(StringRef name, std::optional<Location> loc, DictionaryAttr attrs,
                             ArrayRef<int64_t> input, ConvGeometry &g) {
  static const int64_t one[] = {1, 1}, zero[] = {0};
  return poolGeometry(name, loc, input, arrayOr(attrs, "kernel_size", {}),
                      arrayOr(attrs, "strides", {}), arrayOr(attrs, "padding", zero),
                      arrayOr(attrs, "dilation", one), g);
}

/// A pool gradient's input shape: [N, C] of the result's gradient and
/// `input_size`; checks the gradient against the window's result.
FailureOr<SmallVector<int64_t>> poolGradInput(StringRef name, std::optional<Location> loc,
                                               DictionaryAttr attrs, ArrayRef<int64_t> dy) {
  if (dy.size() != 4)
    return emitOptionalError(loc, "'", name, "' op needs an [N, C, Ho, Wo] gradient, got ",
                             listString(dy));
  auto input = withSpatial(name, loc, "input_size", dy[0], dy[1],
                           arrayOr(attrs, "input_size", {}));
  ConvGeometry g;
  if (failed(input) || failed(poolGeometryOf(name, loc, attrs, *input, g)) ||
      failed(expectShape(name, loc, "the result's gradient", dy, resultShape(g))))
    return failure();
  return input;
}

/// A pool's result type: [N, C, Ho, Wo] of its input's element type.
LogicalResult pooledType(StringRef name, std::optional<Location> loc, ValueRange operands,
                         DictionaryAttr attrs, SmallVectorImpl<Type> &inferred) {
  ConvGeometry g;
  if (failed(poolGeometryOf(name, loc, attrs, tensorOf(operands[0]).getShape(), g)))
    return failure();
  inferred.push_back(RankedTensorType::get(resultShape(g), tensorOf(operands[0]).getElementType()));
  return success();
}

template <typename OpTy>
ConvGeometry geometryOfPool(OpTy op, ArrayRef<int64_t> input) {
  ConvGeometry g;
  (void)poolGeometry(op.getOperationName(), std::nullopt, input, op.getKernelSize(),
                     op.getStrides(), op.getPadding(), op.getDilation(), g);
  return g;
}

} // namespace

LogicalResult MaxPool2dOp::inferReturnTypes(MLIRContext *ctx, std::optional<Location> loc,
                                            ValueRange operands, DictionaryAttr attrs,
                                            OpaqueProperties props, RegionRange regions,
                                            SmallVectorImpl<Type> &inferred) {
  if (failed(adapt<MaxPool2dOp>(ctx, loc, operands, attrs, props, regions, 1)) ||
      failed(pooledType(getOperationName(), loc, operands, attrs, inferred)))
    return failure();
  inferred.push_back(RankedTensorType::get(cast<RankedTensorType>(inferred[0]).getShape(),
                                           IntegerType::get(ctx, 32))); // the indices
  return success();
}

LogicalResult AvgPool2dOp::inferReturnTypes(MLIRContext *ctx, std::optional<Location> loc,
                                            ValueRange operands, DictionaryAttr attrs,
                                            OpaqueProperties props, RegionRange regions,
                                            SmallVectorImpl<Type> &inferred) {
  if (failed(adapt<AvgPool2dOp>(ctx, loc, operands, attrs, props, regions, 1)))
    return failure();
  return pooledType(getOperationName(), loc, operands, attrs, inferred);
}

LogicalResult MaxPool2dGradOp::inferReturnTypes(MLIRContext *ctx, std::optional<Location> loc,
                                                ValueRange operands, DictionaryAttr attrs,
                                                OpaqueProperties props, RegionRange regions,
                                                SmallVectorImpl<Type> &inferred) {
  auto adaptor = adapt<MaxPool2dGradOp>(ctx, loc, operands, attrs, props, regions, 2);
  if (failed(adaptor))
    return failure();
  ArrayRef<int64_t> dy = tensorOf(operands[0]).getShape();
  auto input = poolGradInput(getOperationName(), loc, attrs, dy);
  if (failed(input) ||
      failed(expectShape(getOperationName(), loc, "'indices'", tensorOf(operands[1]).getShape(), dy)))
    return failure();
  inferred.push_back(RankedTensorType::get(*input, tensorOf(operands[0]).getElementType()));
  return success();
}

LogicalResult AvgPool2dGradOp::inferReturnTypes(MLIRContext *ctx, std::optional<Location> loc,
                                                ValueRange operands, DictionaryAttr attrs,
                                                OpaqueProperties props, RegionRange regions,
                                                SmallVectorImpl<Type> &inferred) {
  auto adaptor = adapt<AvgPool2dGradOp>(ctx, loc, operands, attrs, props, regions, 1);
  if (failed(adaptor))
    return failure();
  auto input = poolGradInput(getOperationName(), loc, attrs, tensorOf(operands[0]).getShape());
  if (failed(input))
    return failure();
  inferred.push_back(RankedTensorType::get(*input, tensorOf(operands[0]).getElementType()));
  return success();
}

ConvGeometry MaxPool2dOp::getGeometry() { return geometryOfPool(*this, tensorOf(getInput()).getShape()); }
ConvGeometry AvgPool2dOp::getGeometry() { return geometryOfPool(*this, tensorOf(getInput()).getShape()); }
ConvGeometry MaxPool2dGradOp::getGeometry() { return geometryOfPool(*this, tensorOf(getResult()).getShape()); }
ConvGeometry AvgPool2dGradOp::getGeometry() { return geometryOfPool(*this, tensorOf(getResult()).getShape()); }

//===----------------------------------------------------------------------===//
// Composites
//===----------------------------------------------------------------------===//

LogicalResult LayerNormOp::inferReturnTypes(MLIRContext *ctx,
                                            std::optional<Location> loc,
                                            ValueRange operands,
                                            DictionaryAttr attrs,
                                            OpaqueProperties props,
                                            RegionRange regions,
                                            SmallVectorImpl<Type> &inferred) {
  auto adaptor = adapt<LayerNormOp>(ctx, loc, operands, attrs, props, regions, 3);
  if (failed(adaptor))
    return failure();
  auto input = tensorOf(operands[0]);
  if (input.getRank() < 1)
    return emitOptionalError(loc, "'", getOperationName(),
                             "' op input must have rank >= 1");
  int64_t features = input.getShape().back();
  for (auto [i, name] : llvm::enumerate(std::array<const char *, 2>{"scale", "bias"})) {
    auto t = tensorOf(operands[i + 1]);
    if (t.getRank() != 1 || t.getDimSize(0) != features)
      return emitOptionalError(loc, "'", getOperationName(), "' op '", name,
                               "' ", typeString(t), " must be tensor<",
                               features, "xf32> to match the last dimension of ",
                               typeString(input));
  }
  if (floatOr(attrs, "eps", 1e-5) <= 0)
    return emitOptionalError(loc, "'", getOperationName(),
                             "' op eps must be positive");
  inferred.push_back(input);
  return success();
}

LogicalResult BatchNormOp::inferReturnTypes(MLIRContext *ctx, std::optional<Location> loc,
                                            ValueRange operands, DictionaryAttr attrs,
                                            OpaqueProperties props, RegionRange regions,
                                            SmallVectorImpl<Type> &inferred) {
  auto adaptor = adapt<BatchNormOp>(ctx, loc, operands, attrs, props, regions, 5);
  if (failed(adaptor))
    return failure();
  auto input = tensorOf(operands[0]);
  if (input.getRank() < 2)
    return emitOptionalError(loc, "'", getOperationName(), "' op needs an [N, C, ...] input, got ",
                             typeString(input));
  int64_t channels = input.getDimSize(1);
  static const char *names[] = {"scale", "bias", "running_mean", "running_var"};
  for (auto [i, name] : llvm::enumerate(names)) {
    auto t = tensorOf(operands[i + 1]);
    if (t.getRank() != 1 || t.getDimSize(0) != channels)
      return emitOptionalError(loc, "'", getOperationName(), "' op '", name, "' ",
                               typeString(t), " must be tensor<", channels,
                               "xf32>, one per channel (dimension 1) of ", typeString(input));
  }
  double momentum = floatOr(attrs, "momentum", 0.1);
  if (floatOr(attrs, "eps", 1e-5) <= 0 || momentum < 0 || momentum > 1)
    return emitOptionalError(loc, "'", getOperationName(), "' op needs eps > 0 and momentum in "
                             "[0, 1], got eps ", floatOr(attrs, "eps", 1e-5), ", momentum ",
                             momentum);
  auto training = attrs ? attrs.getAs<BoolAttr>("training") : nullptr;
  if ((!training || training.getValue()) && input.getNumElements() / channels < 2)
    return emitOptionalError(loc, "'", getOperationName(), "' op in training needs more than one "
                             "value per channel to take a variance, got ", typeString(input),
                             " (a batch of one without spatial dimensions)");
  inferred.push_back(input);
  inferred.push_back(tensorOf(operands[3]));
  inferred.push_back(tensorOf(operands[4]));
  return success();
}

LogicalResult L2NormalizeOp::verify() {
  if (getEps().convertToDouble() <= 0)
    return emitOpError() << "eps must be positive";
  return success();
}

LogicalResult OneHotOp::inferReturnTypes(MLIRContext *ctx,
                                         std::optional<Location> loc,
                                         ValueRange operands,
                                         DictionaryAttr attrs,
                                         OpaqueProperties props,
                                         RegionRange regions,
                                         SmallVectorImpl<Type> &inferred) {
  auto adaptor = adapt<OneHotOp>(ctx, loc, operands, attrs, props, regions, 1);
  if (failed(adaptor))
    return failure();
  if (adaptor->getNumClasses() < 1)
    return emitOptionalError(loc, "'", getOperationName(),
                             "' op num_classes must be positive, got ",
                             adaptor->getNumClasses());
  SmallVector<int64_t> shape(tensorOf(operands[0]).getShape());
  shape.push_back(adaptor->getNumClasses());
  inferred.push_back(RankedTensorType::get(shape, Float32Type::get(ctx)));
  return success();
}

LogicalResult ResizeBilinearOp::inferReturnTypes(
    MLIRContext *ctx, std::optional<Location> loc, ValueRange operands,
    DictionaryAttr attrs, OpaqueProperties props, RegionRange regions,
    SmallVectorImpl<Type> &inferred) {
  auto adaptor =
      adapt<ResizeBilinearOp>(ctx, loc, operands, attrs, props, regions, 1);
  if (failed(adaptor))
    return failure();
  auto input = tensorOf(operands[0]);
  ArrayRef<int64_t> size = adaptor->getSize();
  if (input.getRank() < 2 || size.size() != 2 || size[0] < 1 || size[1] < 1)
    return emitOptionalError(loc, "'", getOperationName(), "' op size ",
                             listString(size),
                             " must be two positive sizes for the last two "
                             "dimensions of input ",
                             typeString(input));
  SmallVector<int64_t> shape(input.getShape());
  shape[shape.size() - 2] = size[0];
  shape[shape.size() - 1] = size[1];
  inferred.push_back(RankedTensorType::get(shape, input.getElementType()));
  return success();
}

std::vector<double> kiln::bilinearResizeMatrix(int64_t in, int64_t out) {
  // PyTorch's align_corners=False source coordinate, clamped at 0.
  std::vector<double> m(out * in, 0.0);
  double scale = static_cast<double>(in) / static_cast<double>(out);
  for (int64_t o = 0; o < out; ++o) {
    double src = std::max((o + 0.5) * scale - 0.5, 0.0);
    int64_t i0 = std::min(static_cast<int64_t>(src), in - 1);
    int64_t i1 = std::min(i0 + 1, in - 1);
    double w1 = src - static_cast<double>(i0);
    m[o * in + i0] += 1.0 - w1;
    m[o * in + i1] += w1;
  }
  return m;
}

OpFoldResult ResizeBilinearOp::fold(FoldAdaptor) {
  if (getInput().getType() == getResult().getType())
    return getInput();
  return nullptr;
}

//===----------------------------------------------------------------------===//
// Communication
//===----------------------------------------------------------------------===//

LogicalResult AllReduceOp::inferReturnTypes(MLIRContext *, std::optional<Location>,
                                            ValueRange operands, DictionaryAttr,
                                            OpaqueProperties, RegionRange,
                                            SmallVectorImpl<Type> &inferred) {
  for (Value v : operands)
    inferred.push_back(v.getType());
  return success();
}

//===----------------------------------------------------------------------===//
// Sharded optimizer state
//===----------------------------------------------------------------------===//

/// A rank's chunk of `elements` over `ranks`: ⌈elements / ranks⌉.
static int64_t chunkOf(int64_t elements, int64_t ranks) { return (elements + ranks - 1) / ranks; }

/// `type`'s chunk as a 1-D tensor of its element type.
static RankedTensorType chunkType(Type type, int64_t ranks) {
  auto t = cast<RankedTensorType>(type);
  return RankedTensorType::get({chunkOf(t.getNumElements(), ranks)}, t.getElementType());
}

/// The ranks of an op being inferred, from its attributes (ODS checks).
template <typename OpTy>
FailureOr<int64_t> ranksOf(MLIRContext *ctx, std::optional<Location> loc, ValueRange operands,
                           DictionaryAttr attrs, OpaqueProperties props, RegionRange regions) {
  typename OpTy::Adaptor adaptor(operands, attrs, props, regions);
  if (failed(adaptor.verify(loc ? *loc : UnknownLoc::get(ctx))))
    return failure();
  if (adaptor.getRanks() < 1)
    return emitOptionalError(loc, OpTy::getOperationName(), " needs at least one rank");
  return adaptor.getRanks();
}

LogicalResult ReduceScatterOp::inferReturnTypes(MLIRContext *ctx, std::optional<Location> loc,
                                                ValueRange operands, DictionaryAttr attrs,
                                                OpaqueProperties props, RegionRange regions,
                                                SmallVectorImpl<Type> &inferred) {
  FailureOr<int64_t> ranks =
      ranksOf<ReduceScatterOp>(ctx, loc, operands, attrs, props, regions);
  if (failed(ranks))
    return failure();
  for (Value v : operands)
    inferred.push_back(chunkType(v.getType(), *ranks));
  return success();
}

LogicalResult ShardOp::inferReturnTypes(MLIRContext *ctx, std::optional<Location> loc,
                                        ValueRange operands, DictionaryAttr attrs,
                                        OpaqueProperties props, RegionRange regions,
                                        SmallVectorImpl<Type> &inferred) {
  if (failed(expectOperands(getOperationName(), loc, operands, 1)))
    return failure();
  FailureOr<int64_t> ranks = ranksOf<ShardOp>(ctx, loc, operands, attrs, props, regions);
  if (failed(ranks))
    return failure();
  inferred.push_back(chunkType(operands[0].getType(), *ranks));
  return success();
}

LogicalResult AllGatherOp::verify() {
  if (getRanks() < 1)
    return emitOpError("needs at least one rank");
  if (getValues().size() != getResults().size())
    return emitOpError() << "gathers " << getValues().size() << " chunks into "
                         << getResults().size() << " tensors";
  for (auto [i, chunk, whole] : llvm::enumerate(getValues().getTypes(), getResults().getTypes()))
    if (chunk != chunkType(whole, getRanks()))
      return emitOpError() << "chunk " << i << " is " << chunk << ", not " << whole
                           << "'s chunk over " << getRanks() << " ranks, "
                           << chunkType(whole, getRanks());
  return success();
}

//===----------------------------------------------------------------------===//
// Fusion
//===----------------------------------------------------------------------===//

LogicalResult FusionOp::verify() {
  Block &body = getBody().front();
  if (body.getNumArguments() != getInputs().size())
    return emitOpError() << "needs one block argument per input, got "
                         << body.getNumArguments() << " for " << getInputs().size();
  for (auto [arg, in] : llvm::zip(body.getArguments(), getInputs()))
    if (arg.getType() != in.getType())
      return emitOpError() << "block argument type " << typeString(arg.getType())
                           << " differs from its input's " << typeString(in.getType());
  auto yield = cast<YieldOp>(body.getTerminator());
  if (yield.getValues().getTypes() != getResultTypes())
    return emitOpError() << "yields other types than its results";
  return success();
}

#define GET_OP_CLASSES
#include "Kiln/IR/KilnOps.cpp.inc"
