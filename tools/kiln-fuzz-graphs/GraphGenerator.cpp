//===- GraphGenerator.cpp - random valid kiln graphs ----------------------===//
#include "GraphGenerator.h"
#include "GraphShrinker.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <optional>
#include <random>

namespace kiln::fuzz {
namespace {

using json = nlohmann::ordered_json;
using Shape = std::vector<int64_t>;

enum class Elem { F32, I32, Bool };

/// A value the graph has made so far.
struct Val {
  json ref;
  Shape shape;
  Elem elem = Elem::F32;
  double bound = 1.0;  // |x| stays below this (roughly)
  int64_t classes = 0; // an i32 value in [0, classes), when > 0
  int uses = 0;
  bool grad = false; // a parameter's gradient flows through it
  /// Its elements may be equal by construction (broadcast, padding,
  /// constants): f32 rounding then breaks ties the f64 oracle keeps.
  bool tied = false;
};

int64_t count(const Shape &s) {
  int64_t n = 1;
  for (int64_t d : s)
    n *= d;
  return n;
}

/// numpy broadcasting of two shapes, or nullopt.
std::optional<Shape> broadcastShapes(const Shape &a, const Shape &b) {
  Shape out(std::max(a.size(), b.size()));
  for (size_t i = 0; i < out.size(); ++i) {
    int64_t x = i < a.size() ? a[a.size() - 1 - i] : 1, y = i < b.size() ? b[b.size() - 1 - i] : 1;
    if (x != y && x != 1 && y != 1)
      return std::nullopt;
    out[out.size() - 1 - i] = std::max(x, y);
  }
  return out;
}

class Generator {
public:
  Generator(uint64_t seed, const GeneratorOptions &options) : rng(seed), opt(options) {}
  json run();

private:
  uint64_t pick(uint64_t n) { return n ? rng() % n : 0; }
  bool coin(double p) { return std::uniform_real_distribution<double>(0, 1)(rng) < p; }
  template <typename T, size_t N> const T &oneOf(const T (&xs)[N]) { return xs[pick(N)]; }

  /// A size that favours the edges: 1, 2, primes, around a vector width.
  int64_t dim() {
    static const int64_t sizes[] = {1, 1, 2, 2, 3, 4, 5, 7, 8, 9, 13, 16, 17, 31, 33};
    return std::min(oneOf(sizes), opt.dimCap);
  }
  /// `lead` then `rank` drawn sizes; the drawn ones are halved until the
  /// tensor fits (the same number of draws whatever the cap).
  Shape shape(int rank, Shape lead = {}) {
    Shape s = lead;
    for (int i = 0; i < rank; ++i)
      s.push_back(dim());
    while (count(s) > opt.maxElements) {
      auto it = std::max_element(s.begin() + lead.size(), s.end());
      if (it == s.end() || *it == 1)
        break;
      *it = (*it + 1) / 2;
    }
    return s;
  }
  /// An axis of a rank-`rank` tensor, written negative half the time.
  json axis(int64_t a, size_t rank) { return coin(0.5) ? json(a) : json(a - (int64_t)rank); }

  size_t add(Val v) {
    vals.push_back(std::move(v));
    return vals.size() - 1;
  }
  json use(size_t i) {
    ++vals[i].uses;
    return vals[i].ref;
  }
  /// A node `op` reading `in`, with `attrs`, whose result is `v` (its ref
  /// is set here).
  size_t node(const std::string &op, std::vector<json> in, json attrs, Val v) {
    std::string id = "n" + std::to_string(nodes.size());
    json n = {{"id", id}, {"op", op}, {"in", in}};
    for (auto &[k, x] : attrs.items())
      n[k] = x;
    nodes.push_back(n);
    v.ref = id;
    static const char *blocking[] = {"stop_gradient", "floor", "compare", "argmax", "cast", "one_hot"};
    static const char *tying[] = {"broadcast", "pad", "one_hot", "constant", "relu", "floor",
                                  "cast", "select", "max", "min", "resize_bilinear"};
    bool passesGrad = std::find(std::begin(blocking), std::end(blocking), op) == std::end(blocking);
    v.tied |= std::find(std::begin(tying), std::end(tying), op) != std::end(tying);
    for (size_t i = 0; i < in.size(); ++i) {
      v.tied |= std::find(in.begin(), in.begin() + i, in[i]) != in.begin() + i; // x·xᵀ, concat(x, x)
      for (const Val &u : vals)
        if (u.ref == in[i]) {
          v.grad |= passesGrad && u.grad;
          v.tied |= u.tied;
        }
    }
    return add(std::move(v));
  }
  size_t unary(const std::string &op, size_t x, double bound, json attrs = json::object()) {
    Val v = vals[x];
    return node(op, {use(x)}, attrs, Val{nullptr, v.shape, Elem::F32, bound});
  }
  size_t binary(const std::string &op, json a, json b, Shape s, double bound) {
    return node(op, {a, b}, json::object(), Val{nullptr, s, Elem::F32, bound});
  }

  /// A trained parameter of `s` (a module parameter of network "net").
  size_t param(const Shape &s, bool positive = false) {
    std::string name = "p" + std::to_string(params.size());
    json init;
    switch (positive ? 5 : pick(6)) {
    case 0: init = {{"kind", "uniform"}, {"low", -1}, {"high", 1}}; break;
    case 1: init = {{"kind", "normal"}, {"std", 0.5}}; break;
    case 2: init = {{"kind", "trunc_normal"}, {"std", 0.5}}; break;
    case 3: init = {{"kind", coin(0.5) ? "zeros" : "ones"}}; break;
    case 4: init = {{"kind", "fan_in_uniform"}, {"fan_in", s.empty() ? 1 : s.back()}}; break;
    default: init = {{"kind", "uniform"}, {"low", 0.5}, {"high", 1.5}}; break;
    }
    params[name] = {{"shape", s}, {"init", init}};
    size_t p = add(Val{"w." + name, s, Elem::F32, 2.0});
    vals[p].grad = true;
    vals[p].tied = init["kind"] == "zeros" || init["kind"] == "ones";
    return p;
  }

  /// An f32 value, the latest that fits half the time.
  std::optional<size_t> choose(Elem e, const std::function<bool(const Val &)> &ok = {}) {
    std::vector<size_t> fit;
    for (size_t i = 0; i < vals.size(); ++i)
      if (vals[i].elem == e && (!ok || ok(vals[i])))
        fit.push_back(i);
    if (fit.empty())
      return std::nullopt;
    return coin(0.5) ? fit.back() : fit[pick(fit.size())];
  }

  /// An f32 value of rank 1 or more.
  std::optional<size_t> chooseTensor() {
    return choose(Elem::F32, [](const Val &v) { return !v.shape.empty(); });
  }

  /// x squashed by tanh when it may exceed `limit`.
  size_t tame(size_t x, double limit) { return vals[x].bound > limit ? unary("tanh", x, 1.0) : x; }
  /// x with ties broken (x + r/2, r a random input), for ops whose result
  /// jumps where elements are equal (argmax, comparisons, max, relu, ...)
  /// or is ill-conditioned there (norms and softmaxes of a constant row).
  size_t untie(size_t x) {
    if (!vals[x].tied)
      return x;
    std::string r = "u" + std::to_string(inputs.size());
    inputs[r] = {{"shape", vals[x].shape}, {"source", "random"}};
    size_t half = binary("mul", r, 0.5, vals[x].shape, 0.5);
    size_t y = binary("add", use(x), use(half), vals[x].shape, vals[x].bound + 0.5);
    vals[y].tied = false;
    return y;
  }
  /// x·x + 0.5 (at least 0.5): an argument for log, sqrt, division, pow.
  size_t positive(size_t x) {
    x = tame(x, 2.0);
    double b = vals[x].bound;
    size_t sq = binary("mul", use(x), use(x), vals[x].shape, b * b);
    return binary("add", use(sq), 0.5, vals[sq].shape, b * b + 0.5);
  }

  /// A second operand for `a`: a number, or a value (an existing one, a
  /// new parameter or a constant tensor) that broadcasts against it.
  struct Operand {
    json number;
    std::optional<size_t> value;
    Shape shape;
  };
  json take(const Operand &o) { return o.value ? use(*o.value) : o.number; }
  Operand partner(size_t a, bool forDivision) {
    const Shape s = vals[a].shape;
    switch (pick(4)) {
    case 0:
      return {forDivision ? 0.5 + pick(4) : (double)(int)pick(5) - 2.0 + 0.25, {}, {}};
    case 1:
      if (auto b = choose(Elem::F32, [&](const Val &v) {
            auto bs = broadcastShapes(s, v.shape);
            return &v != &vals[a] && bs && count(*bs) <= opt.maxElements;
          })) {
        size_t x = forDivision ? positive(*b) : tame(*b, 4.0);
        return {nullptr, x, vals[x].shape};
      }
      [[fallthrough]];
    default: {
      Shape t(s.begin() + pick(s.size() + 1), s.end());
      for (int64_t &d : t)
        if (coin(0.4))
          d = 1;
      if (count(t) <= 12 && coin(0.5)) {
        // A constant node: nested lists of its shape.
        std::function<json(size_t)> values = [&](size_t d) -> json {
          if (d == t.size())
            return forDivision ? 0.5 + pick(3) : (double)pick(9) / 4 - 1;
          json l = json::array();
          for (int64_t i = 0; i < t[d]; ++i)
            l.push_back(values(d + 1));
          return l;
        };
        size_t c = node("constant", {}, {{"value", values(0)}, {"shape", t}},
                        Val{nullptr, t, Elem::F32, 3.5});
        return {nullptr, c, t};
      }
      return {nullptr, param(t, forDivision), t};
    }
    }
  }

  // One op family each; false when no value fits.
  bool elementwiseUnary();
  bool elementwiseBinary();
  bool compareSelect();
  bool castToInteger();
  bool reduce();
  bool argmax();
  bool oneHot();
  bool reshape();
  bool conv2d();
  bool transpose();
  bool broadcast();
  bool slice();
  bool concat();
  bool split();
  bool pad();
  bool matmul();
  bool rowOp();
  bool layerNorm();
  bool resize();

  /// Ends the graph: the loss, metrics, a state update.
  void finish(json &objective);

  std::mt19937_64 rng;
  GeneratorOptions opt;
  std::vector<Val> vals;
  json nodes = json::array(), params = json::object(), inputs = json::object();
  std::optional<size_t> state;
};

bool Generator::elementwiseUnary() {
  auto x = choose(Elem::F32);
  if (!x)
    return false;
  static const char *ops[] = {"neg", "exp", "expm1", "log", "sqrt", "rsqrt", "tanh", "sigmoid",
                              "relu", "abs", "erf", "floor", "gelu", "stop_gradient"};
  std::string op = oneOf(ops);
  double b = vals[*x].bound;
  if (op == "exp" || op == "expm1") {
    size_t t = tame(*x, 3.0);
    unary(op, t, std::exp(vals[t].bound) + 1);
  } else if (op == "log" || op == "sqrt" || op == "rsqrt") {
    size_t p = positive(*x);
    double pb = vals[p].bound;
    unary(op, p, op == "log" ? std::max(1.0, std::log(pb)) : op == "sqrt" ? std::sqrt(pb) : 1.5);
  } else if (op == "gelu") {
    unary(op, *x, b, {{"approximate", coin(0.5) ? "none" : "tanh"}});
  } else if (op == "relu" || op == "abs" || op == "floor") {
    unary(op, untie(*x), b + 1);
  } else {
    bool squash = op == "tanh" || op == "sigmoid" || op == "erf";
    unary(op, *x, squash ? 1.0 : b + 1);
  }
  return true;
}

bool Generator::elementwiseBinary() {
  auto x = choose(Elem::F32);
  if (!x)
    return false;
  static const char *ops[] = {"add", "sub", "mul", "div", "pow", "max", "min"};
  std::string op = oneOf(ops);
  size_t a = *x;
  if (op == "pow") {
    size_t base = positive(a);
    json e = coin(0.5) ? json(oneOf({2.0, 0.5, 3.0, -1.0, 1.5}))
                       : use(unary("tanh", *choose(Elem::F32), 1.0));
    Shape s = vals[base].shape;
    if (!e.is_number()) {
      auto bs = broadcastShapes(s, vals.back().shape);
      if (!bs || count(*bs) > opt.maxElements)
        return false;
      s = *bs;
    }
    binary(op, use(base), e, s, std::pow(vals[base].bound, 3.0));
    return true;
  }
  if (op == "mul" || op == "div")
    a = tame(a, 4.0);
  if (op == "max" || op == "min")
    a = untie(a);
  Operand p = partner(a, op == "div");
  auto s = broadcastShapes(vals[a].shape, p.shape);
  if (!s || count(*s) > opt.maxElements)
    return false;
  double bb = p.value ? vals[*p.value].bound : std::fabs(p.number.get<double>());
  double bound = op == "mul" ? vals[a].bound * bb : op == "div" ? vals[a].bound * 2 : vals[a].bound + bb;
  json first = use(a), b = take(p);
  if (op != "div" && coin(0.3))
    std::swap(first, b); // the broadcast operand on the left
  binary(op, first, b, *s, bound);
  return true;
}

bool Generator::compareSelect() {
  auto x = choose(Elem::F32);
  if (!x)
    return false;
  x = untie(*x);
  Operand p = partner(*x, false);
  auto s = broadcastShapes(vals[*x].shape, p.shape);
  if (!s || count(*s) > opt.maxElements)
    return false;
  static const char *preds[] = {"lt", "le", "gt", "ge"};
  size_t cond = node("compare", {use(*x), take(p)}, {{"predicate", oneOf(preds)}},
                     Val{nullptr, *s, Elem::Bool, 1});
  if (coin(0.3))
    return true; // a mask read by a metric or a cast later
  Operand t = partner(*x, false);
  auto s2 = broadcastShapes(*s, t.shape);
  if (!s2 || count(*s2) > opt.maxElements)
    return false;
  double bound = vals[*x].bound + (t.value ? vals[*t.value].bound : 2.5);
  json onTrue = take(t), onFalse = coin(0.5) ? json(0.0) : use(*x);
  node("select", {use(cond), onTrue, onFalse}, json::object(), Val{nullptr, *s2, Elem::F32, bound});
  return true;
}

bool Generator::castToInteger() {
  // A mask or an integer to f32, or f32 truncated to i32 (labels that may
  // be negative or too large: one_hot gives rows of zeros for those).
  if (auto m = choose(Elem::Bool); m && coin(0.5)) {
    node("cast", {use(*m)}, {{"dtype", "f32"}}, Val{nullptr, vals[*m].shape, Elem::F32, 1});
    return true;
  }
  if (auto i = choose(Elem::I32); i && coin(0.4)) {
    double b = vals[*i].classes ? vals[*i].classes : 8;
    node("cast", {use(*i)}, {{"dtype", "f32"}}, Val{nullptr, vals[*i].shape, Elem::F32, b});
    return true;
  }
  auto x = choose(Elem::F32);
  if (!x)
    return false;
  size_t t = untie(tame(*x, 1.0));
  int64_t k = oneOf({2, 3, 5});
  // (k - 1/2)·x: f32 saturates tanh to exactly ±1, which must not land on
  // an integer (truncation jumps there).
  size_t scaled = binary("mul", use(t), k - 0.5, vals[t].shape, k);
  node("cast", {use(scaled)}, {{"dtype", "i32"}}, Val{nullptr, vals[t].shape, Elem::I32, 0, k});
  return true;
}

bool Generator::reduce() {
  auto x = chooseTensor();
  if (!x)
    return false;
  const Shape s = vals[*x].shape;
  static const char *ops[] = {"sum", "mean", "reduce_max", "logsumexp"};
  std::string op = oneOf(ops);
  if (op == "reduce_max")
    x = untie(*x);
  json axes = json::array();
  Shape kept, keptDims;
  int64_t n = 1;
  bool keepdim = coin(0.4);
  size_t one = pick(s.size());
  for (size_t d = 0; d < s.size(); ++d) {
    if (d == one || coin(0.4)) {
      axes.push_back(axis(d, s.size()));
      n *= s[d];
      if (keepdim)
        kept.push_back(1);
    } else {
      kept.push_back(s[d]);
    }
  }
  double b = vals[*x].bound;
  double bound = op == "sum" ? b * n : op == "logsumexp" ? b + std::log((double)n) + 1 : b;
  node(op, {use(*x)}, {{"axes", axes}, {"keepdim", keepdim}}, Val{nullptr, kept, Elem::F32, bound});
  return true;
}

bool Generator::argmax() {
  auto x = chooseTensor();
  if (!x)
    return false;
  x = untie(*x);
  Shape s = vals[*x].shape;
  int64_t a = pick(s.size());
  int64_t n = s[a];
  s.erase(s.begin() + a);
  node("argmax", {use(*x)}, {{"axis", axis(a, s.size() + 1)}}, Val{nullptr, s, Elem::I32, 0, n});
  return true;
}

bool Generator::oneHot() {
  auto i = choose(Elem::I32);
  if (!i)
    return false;
  int64_t c = vals[*i].classes && coin(0.7) ? vals[*i].classes : dim();
  Shape s = vals[*i].shape;
  s.push_back(c);
  if (count(s) > opt.maxElements)
    return false;
  node("one_hot", {use(*i)}, {{"num_classes", c}}, Val{nullptr, s, Elem::F32, 1});
  // Integer comparisons too: labels against an argmax, as accuracy does.
  if (auto j = choose(Elem::I32, [&](const Val &v) { return v.shape == vals[*i].shape && &v != &vals[*i]; });
      j && coin(0.5))
    node("compare", {use(*i), use(*j)}, {{"predicate", coin(0.5) ? "eq" : "ne"}},
         Val{nullptr, vals[*i].shape, Elem::Bool, 1});
  return true;
}

bool Generator::reshape() {
  auto x = choose(coin(0.8) ? Elem::F32 : Elem::I32);
  if (!x)
    return false;
  // The prime factors of the size (and some ones) dealt into new dims.
  int64_t n = count(vals[*x].shape);
  std::vector<int64_t> factors;
  for (int64_t p = 2, m = n; m > 1;) {
    if (m % p == 0) {
      factors.push_back(p);
      m /= p;
    } else {
      ++p;
    }
  }
  int rank = 1 + pick(4);
  Shape s(rank, 1);
  for (int64_t f : factors)
    s[pick(rank)] *= f;
  json target = s;
  if (coin(0.3))
    target[pick(rank)] = -1;
  Val v = vals[*x];
  node("reshape", {use(*x)}, {{"shape", target}}, Val{nullptr, s, v.elem, v.bound, v.classes});
  return true;
}

bool Generator::transpose() {
  auto x = choose(coin(0.8) ? Elem::F32 : Elem::I32, [](const Val &v) { return v.shape.size() >= 2; });
  if (!x)
    return false;
  Val v = vals[*x];
  std::vector<int64_t> perm(v.shape.size());
  for (size_t i = 0; i < perm.size(); ++i)
    perm[i] = i;
  std::shuffle(perm.begin(), perm.end(), rng);
  Shape s;
  for (int64_t p : perm)
    s.push_back(v.shape[p]);
  node("transpose", {use(*x)}, {{"perm", perm}}, Val{nullptr, s, v.elem, v.bound, v.classes});
  return true;
}

bool Generator::broadcast() {
  auto x = choose(Elem::F32);
  if (!x)
    return false;
  Shape s = vals[*x].shape;
  for (int64_t &d : s)
    if (d == 1 && coin(0.7))
      d = dim();
  for (int k = pick(3); k > 0; --k)
    s.insert(s.begin(), coin(0.5) ? 1 : dim());
  if (count(s) > opt.maxElements)
    return false;
  node("broadcast", {use(*x)}, {{"shape", s}}, Val{nullptr, s, Elem::F32, vals[*x].bound});
  return true;
}

bool Generator::slice() {
  auto x = chooseTensor();
  if (!x)
    return false;
  Shape starts, limits, strides, s;
  for (int64_t d : vals[*x].shape) {
    int64_t start = coin(0.5) ? 0 : pick(d), stride = oneOf({1, 1, 1, 2, 3});
    int64_t limit = coin(0.5) ? d : start + 1 + pick(d - start);
    starts.push_back(start);
    limits.push_back(limit);
    strides.push_back(stride);
    s.push_back((limit - start + stride - 1) / stride);
  }
  node("slice", {use(*x)}, {{"starts", starts}, {"limits", limits}, {"strides", strides}},
       Val{nullptr, s, Elem::F32, vals[*x].bound});
  return true;
}

bool Generator::concat() {
  auto x = chooseTensor();
  if (!x)
    return false;
  Shape s = vals[*x].shape;
  int64_t a = pick(s.size());
  std::vector<json> in{use(*x)};
  int64_t total = s[a];
  double bound = vals[*x].bound;
  for (int k = 1 + pick(2); k > 0; --k) {
    auto same = [&](const Val &v) {
      if (v.shape.size() != s.size())
        return false;
      for (size_t d = 0; d < s.size(); ++d)
        if ((int64_t)d != a && v.shape[d] != s[d])
          return false;
      return true;
    };
    std::optional<size_t> y = coin(0.5) ? choose(Elem::F32, same) : std::nullopt;
    if (!y) {
      Shape t = s;
      t[a] = dim();
      y = param(t);
    }
    in.push_back(use(*y));
    total += vals[*y].shape[a];
    bound = std::max(bound, vals[*y].bound);
  }
  s[a] = total;
  if (count(s) > opt.maxElements)
    return false;
  node("concat", in, {{"axis", axis(a, s.size())}}, Val{nullptr, s, Elem::F32, bound});
  return true;
}

bool Generator::split() {
  auto x = choose(Elem::F32, [](const Val &v) {
    return std::any_of(v.shape.begin(), v.shape.end(), [](int64_t d) { return d >= 2; });
  });
  if (!x)
    return false;
  Shape s = vals[*x].shape;
  int64_t a;
  do
    a = pick(s.size());
  while (s[a] < 2);
  // 2 or 3 parts that cover the axis.
  Shape sizes;
  int64_t left = s[a];
  for (int parts = std::min<int64_t>(2 + pick(2), s[a]); parts > 1; --parts) {
    int64_t n = 1 + pick(left - parts + 1);
    sizes.push_back(n);
    left -= n;
  }
  sizes.push_back(left);
  std::string id = "n" + std::to_string(nodes.size());
  nodes.push_back({{"id", id}, {"op", "split"}, {"in", {use(*x)}}, {"axis", axis(a, s.size())},
                   {"sizes", sizes}});
  for (size_t k = 0; k < sizes.size(); ++k) {
    Shape t = s;
    t[a] = sizes[k];
    size_t part = add(Val{id + "." + std::to_string(k), t, Elem::F32, vals[*x].bound});
    vals[part].grad = vals[*x].grad;
  }
  return true;
}

bool Generator::pad() {
  auto x = chooseTensor();
  if (!x)
    return false;
  Shape low, high, interior, s;
  for (int64_t d : vals[*x].shape) {
    low.push_back(oneOf({0, 0, 1, 2}));
    high.push_back(oneOf({0, 0, 1, 2}));
    interior.push_back(oneOf({0, 0, 0, 1}));
    s.push_back(d + low.back() + high.back() + interior.back() * (d - 1));
  }
  if (count(s) > opt.maxElements)
    return false;
  node("pad", {use(*x)}, {{"low", low}, {"high", high}, {"interior", interior}},
       Val{nullptr, s, Elem::F32, vals[*x].bound});
  return true;
}

bool Generator::matmul() {
  auto x = choose(Elem::F32, [](const Val &v) { return v.shape.size() >= 2; });
  if (!x)
    return false;
  size_t a = tame(*x, 4.0);
  Shape as = vals[a].shape;
  size_t r = as.size();
  bool ta = coin(0.3), tb = coin(0.4);
  int64_t m = ta ? as[r - 1] : as[r - 2], k = ta ? as[r - 2] : as[r - 1];
  int64_t n = dim();
  Shape batch(as.begin(), as.end() - 2);
  Shape s = batch;
  s.push_back(m);
  s.push_back(n);
  if (count(s) > opt.maxElements)
    return false;
  json rhs;
  double rb = 2.0;
  if (r == 2 && !ta && tb && m * m <= opt.maxElements && coin(0.3)) {
    rhs = use(a); // x·xᵀ
    s.back() = n = m;
    rb = vals[a].bound;
  } else {
    // A weight, batched half the time (each batch dim its own or 1).
    Shape w = tb ? Shape{n, k} : Shape{k, n};
    if (!batch.empty() && coin(0.5))
      for (size_t d = batch.size(); d-- > 0;)
        w.insert(w.begin(), coin(0.5) ? batch[d] : 1);
    rhs = use(param(w));
  }
  node("matmul", {use(a), rhs}, {{"transpose_lhs", ta}, {"transpose_rhs", tb}},
       Val{nullptr, s, Elem::F32, vals[a].bound * rb * k});
  return true;
}

bool Generator::conv2d() {
  auto x = choose(Elem::F32, [](const Val &v) { return v.shape.size() >= 2; });
  if (!x)
    return false;
  // As [N, C, H, W]: ones in front of a lower rank.
  Shape in = vals[*x].shape;
  while (in.size() < 4)
    in.insert(in.begin(), 1);
  if (in.size() > 4)
    return false;
  int64_t c = in[1], h = in[2], w = in[3];
  int64_t k = oneOf({1, 2, 3}), groups = coin(0.3) ? c : coin(0.3) && c % 2 == 0 ? 2 : 1;
  Shape strides{oneOf({1, 1, 2}), oneOf({1, 1, 2})}, dilation{oneOf({1, 1, 2}), 1};
  Shape padding{int64_t(pick(2)), int64_t(pick(2)), int64_t(pick(2)), int64_t(pick(2))};
  int64_t ho = (h + padding[0] + padding[2] - dilation[0] * (k - 1) - 1) / strides[0] + 1;
  int64_t wo = (w + padding[1] + padding[3] - dilation[1] * (k - 1) - 1) / strides[1] + 1;
  int64_t o = groups * (1 + pick(3));
  Shape s{in[0], o, ho, wo};
  if (h + padding[0] + padding[2] < dilation[0] * (k - 1) + 1 ||
      w + padding[1] + padding[3] < dilation[1] * (k - 1) + 1 || count(s) > opt.maxElements)
    return false;
  size_t a = tame(*x, 4.0);
  json input = use(a);
  if (vals[a].shape.size() < 4)
    input = use(node("reshape", {input}, {{"shape", in}}, Val{nullptr, in, Elem::F32, vals[a].bound}));
  size_t weight = param({o, c / groups, k, k});
  node("conv2d", {input, use(weight)},
       {{"strides", strides}, {"padding", padding}, {"dilation", dilation}, {"groups", groups}},
       Val{nullptr, s, Elem::F32, vals[a].bound * 2.0 * (c / groups) * k * k});
  return true;
}

bool Generator::rowOp() {
  auto x = chooseTensor();
  if (!x)
    return false;
  static const char *ops[] = {"softmax", "log_softmax", "l2_normalize"};
  std::string op = oneOf(ops);
  // Over a row of equal values these do not depend on the value: its exact
  // gradient is 0, and AdamW would scale f32's rounding noise up to lr.
  x = untie(*x);
  const Shape &s = vals[*x].shape;
  int64_t a = pick(s.size());
  json attrs = {{"axis", axis(a, s.size())}};
  if (op == "l2_normalize" && coin(0.3))
    attrs["eps"] = 1e-6;
  double bound = op == "log_softmax" ? 2 * vals[*x].bound + std::log((double)s[a]) + 1 : 1.0;
  unary(op, *x, bound, attrs);
  return true;
}

bool Generator::layerNorm() {
  auto x = chooseTensor();
  if (!x)
    return false;
  x = untie(*x); // a row of equal values has variance 0: rounding noise over √eps
  Shape last{vals[*x].shape.back()};
  json scale = use(param(last)), bias = use(param(last));
  json attrs = coin(0.5) ? json{{"eps", 1e-6}} : json::object();
  node("layer_norm", {use(*x), scale, bias}, attrs,
       Val{nullptr, vals[*x].shape, Elem::F32, 2 * std::sqrt((double)last[0]) + 2});
  return true;
}

bool Generator::resize() {
  auto x = choose(Elem::F32, [](const Val &v) { return v.shape.size() >= 2; });
  if (!x)
    return false;
  Shape s = vals[*x].shape;
  s[s.size() - 2] = dim();
  s[s.size() - 1] = dim();
  if (count(s) > opt.maxElements)
    return false;
  unary("resize_bilinear", *x, vals[*x].bound, {{"size", {s[s.size() - 2], s.back()}}});
  vals.back().shape = s;
  return true;
}

void Generator::finish(json &objective) {
  // The last op's value and every value nothing reads end in the loss (f32)
  // or a metric (masks and integers).
  std::vector<json> terms;
  json metrics = json::object();
  // The loss must depend on a parameter: one more if nothing would carry
  // a gradient to it.
  if (std::none_of(vals.begin(), vals.end(), [](const Val &v) { return v.grad && !v.uses; }))
    param(shape(1));
  size_t made = vals.size();
  for (size_t i = 0; i < made; ++i) {
    if (vals[i].uses)
      continue;
    if (vals[i].elem != Elem::F32) {
      size_t f = node("cast", {use(i)}, {{"dtype", "f32"}}, Val{nullptr, vals[i].shape, Elem::F32, 1});
      json axes = json::array();
      for (size_t d = 0; d < vals[f].shape.size(); ++d)
        axes.push_back(d);
      size_t m = vals[f].shape.empty() ? f
                                       : node("sum", {use(f)}, {{"axes", axes}}, Val{nullptr, {}, Elem::F32, 1});
      metrics["m" + std::to_string(metrics.size())] = vals[m].ref;
      continue;
    }
    std::string r = "r" + std::to_string(inputs.size());
    inputs[r] = {{"shape", vals[i].shape}, {"source", "random"}};
    size_t t = binary("mul", use(i), r, vals[i].shape, vals[i].bound);
    json axes = json::array();
    for (size_t d = 0; d < vals[t].shape.size(); ++d)
      axes.push_back(d);
    terms.push_back(vals[t].shape.empty() ? use(t)
                                          : use(node("sum", {use(t)}, {{"axes", axes}},
                                                     Val{nullptr, {}, Elem::F32, 1})));
  }
  json loss = terms[0];
  for (size_t i = 1; i < terms.size(); ++i)
    loss = use(binary("add", loss, terms[i], {}, 1));
  objective["loss"] = loss;
  // A forward value as a metric: the mean of the first f32 op result.
  for (size_t i = 0; i < made; ++i)
    if (vals[i].elem == Elem::F32 && vals[i].ref.get<std::string>()[0] == 'n' && !vals[i].shape.empty()) {
      json axes = json::array();
      for (size_t d = 0; d < vals[i].shape.size(); ++d)
        axes.push_back(d);
      metrics["forward"] = use(node("mean", {use(i)}, {{"axes", axes}}, Val{nullptr, {}, Elem::F32, 1}));
      break;
    }
  if (!metrics.empty())
    objective["metrics"] = metrics;
  if (state) {
    // s ← 0.9·s + 0.1·mean(loss-side value), broadcast to s's shape.
    size_t keep = binary("mul", use(*state), 0.9, vals[*state].shape, 1);
    size_t g = node("stop_gradient", {loss}, json::object(), Val{nullptr, {}, Elem::F32, 1});
    size_t t = unary("tanh", g, 1);
    size_t b = node("broadcast", {use(t)}, {{"shape", vals[*state].shape}},
                    Val{nullptr, vals[*state].shape, Elem::F32, 1});
    size_t fresh = binary("mul", use(b), 0.1, vals[b].shape, 1);
    size_t next = binary("add", use(keep), use(fresh), vals[b].shape, 1);
    objective["state_updates"] = {{"s0", vals[next].ref}};
  }
}

json Generator::run() {
  int64_t classes = std::min<int64_t>(oneOf({1, 2, 3, 10, 17}), opt.dimCap);
  // Sources: inputs led by the batch, parameters, maybe labels and state.
  Shape x = shape(pick(4), {dim()});
  int64_t batch = x[0];
  inputs["x0"] = {{"shape", x}, {"source", "random"}};
  inputs["x0"]["shape"][0] = "batch";
  add(Val{"x0", x, Elem::F32, 1.0});
  if (coin(0.5)) {
    Shape l{batch};
    inputs["label"] = {{"shape", {"batch"}}, {"dtype", "i32"}, {"source", "label"}};
    add(Val{"label", l, Elem::I32, 0, classes});
  }
  for (int k = 1 + pick(2); k > 0; --k)
    param(shape(pick(4)));
  json stateSection = json::object();
  if (coin(0.3)) {
    Shape s = shape(1 + pick(2));
    stateSection["s0"] = {{"shape", s}, {"init", {{"kind", "ones"}}}};
    state = add(Val{"s0", s, Elem::F32, 1.0});
    vals[*state].tied = true; // ones
  }
  if (coin(0.25)) {
    // Random draws (as stochastic depth's masks), batch-led or not.
    Shape s = coin(0.5) ? shape(pick(3), {batch}) : shape(1 + pick(2));
    node("random_uniform", {}, {{"shape", s}}, Val{nullptr, s, Elem::F32, 1.0});
  }
  using Family = bool (Generator::*)();
  static const Family families[] = {
      &Generator::elementwiseUnary, &Generator::elementwiseUnary, &Generator::elementwiseBinary,
      &Generator::elementwiseBinary, &Generator::compareSelect,   &Generator::castToInteger,
      &Generator::reduce,           &Generator::reduce,           &Generator::argmax,
      &Generator::oneHot,           &Generator::oneHot,           &Generator::reshape,
      &Generator::transpose,        &Generator::broadcast,        &Generator::slice,
      &Generator::concat,           &Generator::split,            &Generator::pad,
      &Generator::matmul,           &Generator::matmul,           &Generator::rowOp,
      &Generator::rowOp,            &Generator::layerNorm,        &Generator::resize,
      &Generator::conv2d};
  for (int made = 0, tries = 0; made < opt.ops && tries < 10 * opt.ops; ++tries)
    made += (this->*oneOf(families))() ? 1 : 0;

  json objective = {{"inputs", inputs}, {"nodes", json::array()}};
  finish(objective);
  objective["inputs"] = inputs; // finish adds the r inputs
  objective["nodes"].push_back({{"id", "w"}, {"op", "call"}, {"network", "net"}, {"in", json::array()}});
  for (json &n : nodes)
    objective["nodes"].push_back(n);
  json outputs = json::object();
  for (auto &[name, p] : params.items())
    outputs[name] = name;

  json optimizer = {{"lr", "lr"}};
  switch (pick(6)) {
  case 0: case 1: case 2: optimizer["kind"] = "sgd"; break; // the gradient itself is checked
  case 3: optimizer.update({{"kind", "sgd"}, {"momentum", 0.9}, {"weight_decay", 0.01}, {"nesterov", coin(0.5)}}); break;
  case 4: optimizer.update({{"kind", "adamw"}, {"weight_decay", 0.05}, {"eps", 1e-2}}); break;
  default: optimizer.update({{"kind", "lars"}, {"weight_decay", 1e-4}}); break;
  }
  if (optimizer["kind"] != "sgd" || optimizer.contains("momentum"))
    if (coin(0.3))
      optimizer["clip"] = {{"kind", coin(0.5) ? "per_param" : "global_norm"}, {"max_norm", 0.5}};

  json g = {{"kiln", 1},
            {"name", "fuzz"},
            {"data", {{"dataset", "fashion-mnist"}}},
            {"modules", {{"weights", {{"inputs", json::array()}, {"params", params}, {"nodes", json::array()},
                                      {"outputs", outputs}}}}},
            {"networks", {{"net", {{"module", "weights"}}}}}};
  if (!stateSection.empty())
    g["state"] = stateSection;
  g["schedules"] = {{"lr", {{"kind", "constant"}, {"value", 0.1}}}};
  g["objective"] = objective;
  g["optimizer"] = optimizer;
  g["train"] = {{"epochs", 1}, {"batch_size", batch}, {"seed", 0}};
  removeUnread(g); // ops a family made and then did not use
  return g;
}

/// One line when it fits in `width` columns, else one line per member.
void format(const json &j, size_t indent, std::string &out) {
  std::string flat = j.dump(-1, ' ', false, json::error_handler_t::replace);
  if (!j.is_structured() || j.empty() || indent + flat.size() <= 100) {
    out += flat;
    return;
  }
  std::string pad(indent + 1, ' ');
  bool object = j.is_object();
  out += object ? "{\n" : "[\n";
  size_t i = 0;
  for (auto it = j.begin(); it != j.end(); ++it, ++i) {
    out += pad;
    if (object)
      out += json(it.key()).dump() + ": ";
    format(*it, indent + 1, out);
    out += i + 1 < j.size() ? ",\n" : "\n";
  }
  out += std::string(indent, ' ') + (object ? "}" : "]");
}

} // namespace

nlohmann::ordered_json generateGraph(uint64_t seed, const GeneratorOptions &options) {
  return Generator(seed, options).run();
}

std::string formatGraph(const nlohmann::ordered_json &graph) {
  std::string out;
  format(graph, 0, out);
  return out + "\n";
}

} // namespace kiln::fuzz
