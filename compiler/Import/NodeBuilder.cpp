//===- NodeBuilder.cpp - graph nodes to kiln ops --------------------------===//
//
// A node {"id", "op", "in", ...attributes} becomes the op "kiln.<op>", built
// generically: the op's own ODS attribute names are the node's allowed keys,
// InferTypeOpInterface gives the result types, and the op verifier has the
// last word. Only a few nodes need the importer's help: "call" (a module or
// network instance), "reshape" (-1 in the shape), "cast" (a dtype),
// "constant" and "random_uniform" (a shape instead of operands).
//
//===----------------------------------------------------------------------===//
#include "compiler/Import/Importer.h"

#include "Kiln/IR/KilnDTypes.h"
#include "Kiln/IR/KilnOps.h"

#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/Verifier.h"
#include "mlir/Interfaces/InferTypeOpInterface.h"

#include <algorithm>

using namespace mlir;

namespace kiln {
namespace {

/// How a node attribute is read from JSON. Attribute names mean the same in
/// every op, so one table serves all ops.
enum class AttrKind { Int, IntList, Float, Bool, String, Axis, AxisList };

std::optional<AttrKind> attrKind(StringRef name) {
  return llvm::StringSwitch<std::optional<AttrKind>>(name)
      .Case("axis", AttrKind::Axis)
      .Case("axes", AttrKind::AxisList)
      .Cases("num_classes", "stream", "groups", AttrKind::Int)
      .Cases("perm", "shape", "sizes", "starts", "limits", AttrKind::IntList)
      .Cases("padding", "dilation", "kernel_size", "input_size", AttrKind::IntList)
      .Cases("strides", "size", "low", "high", "interior", AttrKind::IntList)
      .Cases("eps", "momentum", AttrKind::Float)
      .Cases("keepdim", "transpose_lhs", "transpose_rhs", AttrKind::Bool)
      .Cases("training", "sync", "count_include_pad", AttrKind::Bool)
      .Cases("approximate", "predicate", AttrKind::String)
      .Default(std::nullopt);
}

/// Ops that a node may not name: graph sources and sinks have sections.
const char *sectionOf(StringRef op) {
  return llvm::StringSwitch<const char *>(op)
      .Case("param", "a module's \"params\"")
      .Case("state", "the \"state\" section")
      .Case("input", "the objective's \"inputs\"")
      .Case("schedule", "the \"schedules\" section")
      .Cases("loss", "metric", "update_state",
             "the objective's \"loss\", \"metrics\" and \"state_updates\"")
      .Cases("gradient", "update_param", "output",
             "the compiler (autodiff and the \"optimizer\" section)")
      .Cases("fusion", "yield", "the compiler (kiln-fuse)")
      .Cases("conv2d_input_grad", "conv2d_weight_grad", "max_pool2d_grad", "avg_pool2d_grad",
             "the compiler (autodiff)")
      .Case("all_reduce", "the compiler (kiln-insert-all-reduce)")
      .Cases("reduce_scatter", "shard", "all_gather", "the compiler (the sharded optimizer)")
      .Default(nullptr);
}

/// Node ops with their own keys (besides id, op, in, doc).
const std::map<std::string, std::vector<std::string>> &specialOps() {
  static const std::map<std::string, std::vector<std::string>> ops = {
      {"call", {}}, // keys checked in callNode
      {"reshape", {"shape"}},
      {"cast", {"dtype"}},
      {"constant", {"value", "shape"}},
      {"random_uniform", {"shape"}},
  };
  return ops;
}

/// Names for the results of node ops with several, the first being what
/// "id" alone refers to (the others: "id.indices"); split's pieces are
/// numbered instead, and "id" alone names none of them.
const std::vector<std::string> *resultNames(StringRef op) {
  static const std::map<std::string, std::vector<std::string>> names = {
      {"max_pool2d", {"result", "indices"}},
      {"batch_norm", {"result", "updated_mean", "updated_var"}},
  };
  auto it = names.find(op.str());
  return it == names.end() ? nullptr : &it->second;
}

/// Every op name a node may use, for "did you mean".
std::vector<std::string> nodeOpNames(MLIRContext &context) {
  std::vector<std::string> names;
  for (RegisteredOperationName op : context.getRegisteredOperations()) {
    StringRef name = op.getStringRef();
    if (name.consume_front("kiln.") && !sectionOf(name))
      names.push_back(name.str());
  }
  names.push_back("call");
  return names;
}

} // namespace

std::vector<std::string> unreadableNodeAttributes(MLIRContext &context) {
  std::vector<std::string> out;
  for (RegisteredOperationName op : context.getRegisteredOperations()) {
    StringRef name = op.getStringRef();
    if (!name.consume_front("kiln.") || sectionOf(name) ||
        specialOps().count(name.str()))
      continue;
    for (StringAttr attr : op.getAttributeNames())
      if (!attrKind(attr.getValue()))
        out.push_back((name + "." + attr.getValue()).str());
    if (!op.hasInterface<InferTypeOpInterface>())
      out.push_back((name + " (no InferTypeOpInterface)").str());
  }
  return out;
}

//===----------------------------------------------------------------------===//
// One node
//===----------------------------------------------------------------------===//

namespace {

/// Builds the op of one node; nullopt after reporting an error.
class NodeBuilder {
public:
  NodeBuilder(Importer &im, Env &env, const std::string &ptr, const json &node)
      : im(im), env(env), src(*env.src), ptr(ptr), node(node),
        op(node["op"].get<std::string>()), id(node["id"].get<std::string>()),
        loc(im.location(src, ptr, env.path.empty() ? id : env.path + "." + id)) {}

  std::optional<Bound> build(ArrayRef<Value> operands);

private:
  Importer &im;
  Env &env;
  const JsonSource &src;
  const std::string &ptr;
  const json &node;
  std::string op, id;
  Location loc;

  bool checkKeys(const std::vector<std::string> &extra);
  std::optional<Bound> finish(const OperationState &state);
  std::optional<Bound> buildSpecial(ArrayRef<Value> operands);
  std::optional<NamedAttribute> attribute(const std::string &key,
                                          ArrayRef<Value> operands);
  std::optional<int64_t> axis(const std::string &p, const json &v,
                              ArrayRef<Value> operands);
};

bool NodeBuilder::checkKeys(const std::vector<std::string> &extra) {
  std::vector<std::string> keys = {"id", "op", "in", "doc", "if"};
  keys.insert(keys.end(), extra.begin(), extra.end());
  for (auto &[key, _] : node.items())
    if (std::find(keys.begin(), keys.end(), key) == keys.end()) {
      im.error(src, pointerJoin(ptr, key), "unknown key '" + key + "' for op '" +
                                               op + "'" + suggest(key, keys));
      return false;
    }
  return true;
}

/// Creates and verifies the op; diagnostics are re-reported at the node.
std::optional<Bound> NodeBuilder::finish(const OperationState &state) {
  std::string message;
  Operation *created;
  bool valid;
  {
    ScopedDiagnosticHandler capture(&im.context, [&](Diagnostic &d) {
      if (message.empty())
        message = d.str();
      return success();
    });
    created = im.body.create(state);
    valid = mlir::succeeded(mlir::verify(created));
  }
  if (!valid) {
    created->erase();
    im.error(src, ptr, message);
    return std::nullopt;
  }
  Bound bound;
  bound.values.assign(created->result_begin(), created->result_end());
  if (auto *names = resultNames(op)) {
    bound.names = *names;
    bound.firstIsDefault = true;
  }
  return bound;
}

std::optional<int64_t> NodeBuilder::axis(const std::string &p, const json &v,
                                         ArrayRef<Value> operands) {
  auto a = im.integer(src, p, v, env.args, &env);
  if (!a)
    return std::nullopt;
  if (*a < 0 && !operands.empty())
    *a += cast<RankedTensorType>(operands[0].getType()).getRank(); // -1: last
  return a;
}

std::optional<NamedAttribute> NodeBuilder::attribute(const std::string &key,
                                                     ArrayRef<Value> operands) {
  Builder b(&im.context);
  std::string p = pointerJoin(ptr, key);
  const json &v = node[key];
  auto kind = attrKind(key);
  assert(kind && "every kiln op attribute is listed in attrKind");
  auto wrongType = [&](const char *expected) -> std::optional<NamedAttribute> {
    im.error(src, p, "'" + key + "' must be " + expected + ", got " +
                         describeJson(v));
    return std::nullopt;
  };
  switch (*kind) {
  case AttrKind::Int: {
    auto n = im.integer(src, p, v, env.args, &env);
    if (!n)
      return std::nullopt;
    return b.getNamedAttr(key, b.getI64IntegerAttr(*n));
  }
  case AttrKind::Axis: {
    auto a = axis(p, v, operands);
    if (!a)
      return std::nullopt;
    return b.getNamedAttr(key, b.getI64IntegerAttr(*a));
  }
  case AttrKind::AxisList: {
    if (!v.is_array())
      return wrongType("a list of axes");
    SmallVector<int64_t> axes;
    for (size_t i = 0; i < v.size(); ++i) {
      auto a = axis(pointerJoin(p, std::to_string(i)), v[i], operands);
      if (!a)
        return std::nullopt;
      if (llvm::is_contained(axes, *a)) {
        im.error(src, pointerJoin(p, std::to_string(i)),
                 "axis " + std::to_string(*a) + " is listed twice");
        return std::nullopt;
      }
      axes.push_back(*a);
    }
    llvm::sort(axes); // a set of axes; the IR keeps them sorted
    return b.getNamedAttr(key, b.getDenseI64ArrayAttr(axes));
  }
  case AttrKind::IntList: {
    // A window's sizes may be one number for both sides, as PyTorch's.
    bool window = (op == "conv2d" || op == "max_pool2d" || op == "avg_pool2d") &&
                  (key == "padding" || key == "strides" || key == "dilation" ||
                   key == "kernel_size");
    if (window && (v.is_number() || v.is_string())) {
      auto n = im.integer(src, p, v, env.args, &env);
      if (!n)
        return std::nullopt;
      return b.getNamedAttr(key, b.getDenseI64ArrayAttr({*n, *n}));
    }
    auto list = im.intList(src, p, v, env.args, &env);
    if (!list)
      return std::nullopt;
    return b.getNamedAttr(key, b.getDenseI64ArrayAttr(*list));
  }
  case AttrKind::Float: {
    auto n = im.number(src, p, v, env.args, &env);
    if (!n)
      return std::nullopt;
    return b.getNamedAttr(key, b.getF64FloatAttr(*n));
  }
  case AttrKind::Bool: {
    if (v.is_boolean())
      return b.getNamedAttr(key, b.getBoolAttr(v.get<bool>()));
    // 0 or 1 from an expression: "training": "training", "sync": "sync".
    if (!v.is_number() && !(v.is_string() && im.isExpressionRef(env, v.get<std::string>())))
      return wrongType("true or false (or an expression that is 0 or 1)");
    auto n = im.number(src, p, v, env.args, &env);
    if (!n)
      return std::nullopt;
    if (*n != 0 && *n != 1) {
      im.error(src, p, "'" + key + "' must be true or false (0 or 1), got " + describeJson(v) +
                           " = " + std::to_string(*n));
      return std::nullopt;
    }
    return b.getNamedAttr(key, b.getBoolAttr(*n == 1));
  }
  case AttrKind::String:
    if (!v.is_string())
      return wrongType("a string");
    return b.getNamedAttr(key, b.getStringAttr(v.get<std::string>()));
  }
  return std::nullopt;
}

std::optional<Bound> NodeBuilder::buildSpecial(ArrayRef<Value> operands) {
  if (!checkKeys(specialOps().at(op)))
    return std::nullopt;
  Builder b(&im.context);
  auto need = [&](const char *key) {
    if (node.contains(key))
      return true;
    im.error(src, ptr, "op '" + op + "' needs '" + key + "'");
    return false;
  };
  auto expectOperands = [&](size_t n) {
    if (operands.size() == n)
      return true;
    im.error(src, pointerJoin(ptr, "in"),
             "op '" + op + "' takes " + std::to_string(n) + " input(s), got " +
                 std::to_string(operands.size()));
    return false;
  };

  if (op == "reshape") {
    if (!expectOperands(1) || !need("shape"))
      return std::nullopt;
    auto shape = im.intList(src, pointerJoin(ptr, "shape"), node["shape"],
                            env.args, &env, /*allowInfer=*/true);
    if (!shape)
      return std::nullopt;
    auto in = cast<RankedTensorType>(operands[0].getType());
    int64_t known = 1, inferAt = -1;
    for (auto [i, d] : llvm::enumerate(*shape)) {
      if (d != -1) {
        known *= d;
      } else if (inferAt >= 0) {
        im.error(src, pointerJoin(ptr, "shape"), "at most one -1 in a shape");
        return std::nullopt;
      } else {
        inferAt = i;
      }
    }
    if (inferAt >= 0) {
      if (known == 0 || in.getNumElements() % known) {
        im.error(src, pointerJoin(ptr, "shape"),
                 "cannot infer the -1 in the shape: " +
                     std::to_string(in.getNumElements()) +
                     " elements of input " + typeString(in) +
                     " are not a multiple of " + std::to_string(known));
        return std::nullopt;
      }
      (*shape)[inferAt] = in.getNumElements() / known;
    }
    OperationState state(loc, ReshapeOp::getOperationName());
    state.addOperands(operands);
    state.addTypes(RankedTensorType::get(*shape, in.getElementType()));
    return finish(state);
  }
  if (op == "cast") {
    if (!expectOperands(1) || !need("dtype"))
      return std::nullopt;
    const json &dtype = node["dtype"];
    std::optional<DType> known =
        dtype.is_string() ? dtypeNamed(dtype.get<std::string>()) : std::nullopt;
    if (!known || (*known != DType::F32 && *known != DType::I32)) {
      im.error(src, pointerJoin(ptr, "dtype"),
               "'dtype' must be \"f32\" or \"i32\", got " + describeJson(dtype));
      return std::nullopt;
    }
    Type element = mlirElementType(*known, b.getContext());
    auto in = cast<RankedTensorType>(operands[0].getType());
    OperationState state(loc, CastOp::getOperationName());
    state.addOperands(operands);
    state.addTypes(RankedTensorType::get(in.getShape(), element));
    return finish(state);
  }
  // constant and random_uniform: no operands, a shape.
  if (!expectOperands(0))
    return std::nullopt;
  SmallVector<int64_t> shape;
  if (node.contains("shape")) {
    auto s = im.intList(src, pointerJoin(ptr, "shape"), node["shape"], env.args,
                        &env);
    if (!s)
      return std::nullopt;
    shape = *s;
  }
  auto type = RankedTensorType::get(shape, b.getF32Type());
  OperationState state(loc, op == "constant" ? ConstantOp::getOperationName()
                                             : RandomUniformOp::getOperationName());
  if (op == "random_uniform") {
    if (!need("shape"))
      return std::nullopt;
    state.addAttribute("stream", b.getI64IntegerAttr(im.nextRandomStream++));
  } else {
    if (!need("value"))
      return std::nullopt;
    const json &value = node["value"];
    std::string p = pointerJoin(ptr, "value");
    // Nested lists, row-major; their nesting is the shape unless "shape" says.
    SmallVector<float> values;
    SmallVector<int64_t> nested;
    std::function<bool(const json &, const std::string &, size_t)> collect =
        [&](const json &v, const std::string &at, size_t depth) {
          if (!v.is_array()) {
            auto n = im.number(src, at, v, env.args, &env);
            if (n)
              values.push_back(static_cast<float>(*n));
            return n.has_value();
          }
          if (depth == nested.size())
            nested.push_back(v.size());
          if (nested[depth] != (int64_t)v.size()) {
            im.error(src, at, "ragged list: expected " +
                                  std::to_string(nested[depth]) + " entries");
            return false;
          }
          for (size_t i = 0; i < v.size(); ++i)
            if (!collect(v[i], pointerJoin(at, std::to_string(i)), depth + 1))
              return false;
          return true;
        };
    if (!collect(value, p, 0))
      return std::nullopt;
    if (!node.contains("shape"))
      type = RankedTensorType::get(nested, b.getF32Type());
    if (values.size() != 1 && (int64_t)values.size() != type.getNumElements()) {
      im.error(src, p,
               std::to_string(values.size()) + " values do not fill shape " +
                   typeString(type) + " (" +
                   std::to_string(type.getNumElements()) + " elements)");
      return std::nullopt;
    }
    auto attr = values.size() == 1 ? DenseElementsAttr::get(type, values[0])
                                   : DenseElementsAttr::get(type, ArrayRef(values));
    state.addAttribute("value", attr);
  }
  state.addTypes(type);
  return finish(state);
}

std::optional<Bound> NodeBuilder::build(ArrayRef<Value> operands) {
  if (specialOps().count(op))
    return buildSpecial(operands);
  if (const char *section = sectionOf(op)) {
    im.error(src, pointerJoin(ptr, "op"),
             "op '" + op + "' is not a node; declare it in " + section);
    return std::nullopt;
  }
  auto name = RegisteredOperationName::lookup("kiln." + op, &im.context);
  if (!name) {
    im.error(src, pointerJoin(ptr, "op"),
             "unknown op '" + op + "'" + suggest(op, nodeOpNames(im.context)));
    return std::nullopt;
  }
  std::vector<std::string> attrNames;
  for (StringAttr a : name->getAttributeNames())
    attrNames.push_back(a.str());
  if (!checkKeys(attrNames))
    return std::nullopt;

  OperationState state(loc, *name);
  state.addOperands(operands);
  for (const std::string &key : attrNames) {
    if (!node.contains(key))
      continue;
    auto attr = attribute(key, operands);
    if (!attr)
      return std::nullopt;
    state.addAttribute(attr->getName(), attr->getValue());
  }
  // A pool's stride defaults to its window, as in PyTorch.
  if (name->hasInterface<PoolOpInterface>() && !node.contains("strides") &&
      state.attributes.get("kernel_size"))
    state.addAttribute("strides", state.attributes.get("kernel_size"));

  // Result types from the op's own shape inference.
  auto *infer = name->getInterface<InferTypeOpInterface>();
  assert(infer && "every generic node op infers its result types");
  std::string message;
  SmallVector<Type> types;
  bool inferred;
  {
    ScopedDiagnosticHandler capture(&im.context, [&](Diagnostic &d) {
      if (message.empty())
        message = d.str();
      return success();
    });
    inferred = mlir::succeeded(infer->inferReturnTypes(
        &im.context, loc, state.operands,
        state.attributes.getDictionary(&im.context), OpaqueProperties(nullptr),
        {}, types));
  }
  if (!inferred) {
    im.error(src, ptr, message);
    return std::nullopt;
  }
  state.addTypes(types);
  return finish(state);
}

} // namespace

std::optional<Bound> Importer::buildNode(Env &env, const std::string &ptr,
                                         const json &node,
                                         ArrayRef<Value> operands) {
  return NodeBuilder(*this, env, ptr, node).build(operands);
}

} // namespace kiln
