//===- KernelTest.cpp - every CPU kernel against the reference evaluator --===//
//
// One evaluation entry holds every op case (the differentiable ops of
// OpCases plus the rest: comparisons, casts, argmax, one_hot, floor, the
// shape ops viewed through reshape); it is compiled to a real artifact
// (kernels.so through LLVM, GEMM thunks through OpenBLAS), run by the
// runtime on random inputs, and every output must match the double-
// precision reference evaluator to 1e-5 (relative, or absolute near 0).
//
// In bf16 (and fp16) the same entry goes through kiln-assign-precision
// with every input first multiplied by an identity matrix: that GEMM makes
// it low, so each op case runs as the pass leaves it (low loads, stores
// and rounding in the kernels, low GEMMs in oneDNN or widened to sgemm),
// and the reference rounds each low result as the kernels must. Both round
// f32 or double values to the same low float but near ties, so an output
// may be off by a rounded step (2^-8 relative in bf16, 2^-11 in fp16)
// carried through the case's ops: at most 4 steps, and in at most 1% of
// elements by more than 1e-5. Kernels that skipped the rounding would be
// off by ~half a step nearly everywhere.
//
//===----------------------------------------------------------------------===//
#include "OpCases.h"
#include "StepTestUtils.h"

#include "compiler/Artifact/ArtifactWriter.h"
#include "runtime/exec/Executor.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Verifier.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <unistd.h>

using namespace mlir;
using namespace kiln;
using test::OpCase;
using test::Shape;

namespace {

/// Ops without gradients, and views, that the kernels must still get right.
std::vector<OpCase> otherCases() {
  auto same = [](std::mt19937 &r) {
    return std::vector<Shape>{{int64_t(2 + r() % 3), int64_t(3 + r() % 3), int64_t(2 + r() % 4)}};
  };
  auto two = [](std::mt19937 &r) {
    Shape s{int64_t(2 + r() % 3), int64_t(3 + r() % 3)};
    return std::vector<Shape>{s, s};
  };
  return {
      {"other", "floor", same,
       [](KilnBuilder &k, ArrayRef<Value> p) -> Value {
         return k.builder().create<FloorOp>(k.location(), k.mul(p[0], k.scalar(3.0)));
       }},
      {"other", "compare_select", two,
       [](KilnBuilder &k, ArrayRef<Value> p) {
         return k.select(k.compare("le", p[0], p[1]), p[1], k.neg(p[0]));
       }},
      {"other", "cast_bool", two,
       [](KilnBuilder &k, ArrayRef<Value> p) { return k.toF32(k.compare("gt", p[0], p[1])); }},
      {"other", "argmax_cast", same,
       [](KilnBuilder &k, ArrayRef<Value> p) -> Value {
         OpBuilder &b = k.builder();
         Value idx = b.create<ArgmaxOp>(k.location(), ValueRange{p[0]},
                                        ArrayRef<NamedAttribute>{b.getNamedAttr("axis", b.getI64IntegerAttr(1))});
         return k.toF32(idx);
       }},
      {"other", "one_hot_of_argmax", same,
       [](KilnBuilder &k, ArrayRef<Value> p) -> Value {
         OpBuilder &b = k.builder();
         Value idx = b.create<ArgmaxOp>(k.location(), ValueRange{p[0]},
                                        ArrayRef<NamedAttribute>{b.getNamedAttr("axis", b.getI64IntegerAttr(2))});
         return b.create<OneHotOp>(k.location(), ValueRange{idx},
                                   ArrayRef<NamedAttribute>{b.getNamedAttr("num_classes", b.getI64IntegerAttr(5))});
       }},
      {"other", "reshape_then_add", same,
       [](KilnBuilder &k, ArrayRef<Value> p) {
         Shape s(kiln::shapeOf(p[0]).begin(), kiln::shapeOf(p[0]).end());
         Value flat = k.reshape(p[0], {s[0] * s[1], s[2]});
         return k.add(flat, k.scalar(1.0));
       }},
      {"other", "reduce_keepdim_broadcast", same,
       [](KilnBuilder &k, ArrayRef<Value> p) {
         return k.sub(p[0], k.mean(p[0], {0, 2}, true));
       }},
  };
}

/// `precision`: "f32", "bf16" or "fp16".
void checkKernels(const std::string &precision) {
  bool low = precision != "f32";
  std::vector<OpCase> all = test::differentiableOpCases();
  for (const OpCase &c : otherCases())
    all.push_back(c);

  // One entry: inputs c<i>.x<j>, outputs c<i>.
  MLIRContext &ctx = test::context();
  OpBuilder b(&ctx);
  Location loc = UnknownLoc::get(&ctx);
  OwningOpRef<ModuleOp> module = ModuleOp::create(loc);
  b.setInsertionPointToEnd(module->getBody());
  auto fn = b.create<func::FuncOp>(loc, "eval", b.getFunctionType({}, {}));
  b.setInsertionPointToEnd(fn.addEntryBlock());
  KilnBuilder k(b, loc);
  std::mt19937 rng(99);
  std::map<std::string, std::pair<double, double>> ranges;
  for (auto [i, c] : llvm::enumerate(all)) {
    SmallVector<Value> inputs;
    for (auto [j, shape] : llvm::enumerate(c.shapes(rng))) {
      std::string name = "c" + std::to_string(i) + ".x" + std::to_string(j);
      inputs.push_back(b.create<InputOp>(loc, RankedTensorType::get(shape, b.getF32Type()),
                                         b.getStringAttr(name), nullptr));
      ranges[name] = {c.low, c.high};
      if (low) { // x·I, as [rows, n] when x has fewer than two dims
        int64_t n = shape.empty() ? 1 : shape.back();
        std::vector<double> eye(n * n, 0.0);
        for (int64_t d = 0; d < n; ++d)
          eye[d * n + d] = 1.0;
        Value x = shape.size() < 2 ? k.reshape(inputs.back(), {1, n}) : inputs.back();
        Value y = k.matmul(x, k.constant({n, n}, eye));
        inputs.back() = shape.size() < 2 ? k.reshape(y, shape) : y;
      }
    }
    Value out = c.body(k, inputs);
    b.create<OutputOp>(loc, b.getStringAttr("c" + std::to_string(i)), out);
  }
  b.create<func::ReturnOp>(loc);
  ASSERT_TRUE(succeeded(mlir::verify(*module)));
  if (low)
    ASSERT_TRUE(test::runPipeline(*module, "kiln-assign-precision{precision=" + precision + "}"));

  StepBindings bindings = test::randomBindings(*module, rng);
  for (auto &[name, t] : bindings.inputs) {
    auto [lo, hi] = ranges[name];
    std::uniform_real_distribution<double> u(lo, hi);
    for (double &v : t.data)
      v = static_cast<float>(u(rng)); // what the f32 kernels see
  }
  StepResults want = test::evaluate(*module, bindings);

  std::string dir = std::filesystem::temp_directory_path() /
                    ("kiln-kernels-" + std::to_string(::getpid()) + ".kiln");
  std::string error;
  OwningOpRef<ModuleOp> compiled = module->clone();
  // batch_norm lowered (against its definition in the reference), each op
  // alone in a region (the kernel every unfused op gets), resize as GEMMs.
  ASSERT_TRUE(test::runPipeline(
      *compiled, "func.func(kiln-lower-batch-norm,kiln-single-op-regions,kiln-decompose-resize)"));
  ASSERT_TRUE(writeArtifact(*compiled, dir, {}, error)) << error;
  auto exec = Executor::load(dir, 2, error);
  ASSERT_TRUE(exec) << error;
  for (const auto &in : exec->manifest().inputs) {
    const RefTensor &t = bindings.inputs.at(in.name);
    float *p = exec->as<float>(in.buffer);
    for (int64_t i = 0; i < t.size(); ++i)
      p[i] = static_cast<float>(t.data[i]);
  }
  int program = exec->program("eval");
  exec->run(program);
  for (auto [i, c] : llvm::enumerate(all)) {
    std::string name = "c" + std::to_string(i);
    const RefTensor &ref = want.outputs.at(name);
    const float *got = exec->as<float>(exec->sinkBuffer(program, "output", name));
    double worst = 0;
    int64_t off = 0;
    for (int64_t e = 0; e < ref.size(); ++e) {
      double err = std::fabs(got[e] - ref.data[e]) / std::max(1.0, std::fabs(ref.data[e]));
      worst = std::max(worst, err);
      off += err > 1e-5;
    }
    std::cout << "[kernel " << precision << "] " << c.name << " " << worst << " (" << off
              << " of " << ref.size() << " beyond 1e-5)\n";
    if (low) {
      EXPECT_LE(worst, 4 * std::ldexp(1.0, precision == "bf16" ? -8 : -11)) << c.name;
      EXPECT_LE(off, std::max<int64_t>(1, ref.size() / 100)) << c.name;
    } else {
      EXPECT_LT(worst, 1e-5) << c.name;
    }
  }
  std::filesystem::remove_all(dir);
}

TEST(Kernels, MatchReferenceEvaluator) { checkKernels("f32"); }

TEST(Kernels, MatchReferenceEvaluatorInBf16) { checkKernels("bf16"); }

TEST(Kernels, MatchReferenceEvaluatorInFp16) { checkKernels("fp16"); }

} // namespace
