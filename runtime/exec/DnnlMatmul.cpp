//===- DnnlMatmul.cpp - bf16 matrix products on oneDNN --------------------===//
#include "runtime/exec/DnnlMatmul.h"

#include <algorithm>
#include <map>
#include <oneapi/dnnl/dnnl.hpp>
#include <omp.h>
#include <tuple>
#include <vector>

namespace kiln {

using dnnl::memory;

namespace {

memory::data_type dnnlType(DType d) {
  return d == DType::BF16  ? memory::data_type::bf16
         : d == DType::F16 ? memory::data_type::f16
                           : memory::data_type::f32;
}

/// A plain row-major [rows × cols] matrix, or its transpose, with leading
/// dimension `ld`, as the logical [rows × cols] operand.
memory::desc matrix(int64_t rows, int64_t cols, int64_t ld, bool transposed, DType d) {
  return memory::desc({rows, cols}, dnnlType(d),
                      transposed ? memory::dims{1, ld} : memory::dims{ld, 1});
}

struct Plan {
  dnnl::matmul matmul;
  memory::desc a, b, c;
};

using Key = std::tuple<int, int, bool, bool, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t>;

} // namespace

struct DnnlMatmul::State {
  dnnl::engine engine{dnnl::engine::kind::cpu, 0};
  // Per pool slot: a slot runs on one thread at a time.
  std::vector<dnnl::stream> streams;
  std::vector<std::map<Key, Plan>> plans;
};

DnnlMatmul::DnnlMatmul() : state(std::make_unique<State>()) {}
DnnlMatmul::~DnnlMatmul() = default;

void DnnlMatmul::reserve(int64_t slots) {
  while (static_cast<int64_t>(state->streams.size()) < slots)
    state->streams.emplace_back(state->engine);
  state->plans.resize(std::max<size_t>(state->plans.size(), slots));
}

void DnnlMatmul::run(int64_t slot, DType in, DType out, bool transA, bool transB, int64_t m,
                     int64_t n, int64_t k, const void *a, int64_t lda, const void *b,
                     int64_t ldb, void *c, int64_t ldc) {
  omp_set_num_threads(1); // Debian's oneDNN threads with OpenMP
  Key key{int(in), int(out), transA, transB, m, n, k, lda, ldb, ldc};
  auto &plans = state->plans[slot];
  auto it = plans.find(key);
  if (it == plans.end()) {
    Plan p;
    p.a = matrix(m, k, lda, transA, in);
    p.b = matrix(k, n, ldb, transB, in);
    p.c = matrix(m, n, ldc, false, out);
    p.matmul = dnnl::matmul(dnnl::matmul::primitive_desc(dnnl::matmul::desc(p.a, p.b, p.c),
                                                         state->engine));
    it = plans.emplace(key, std::move(p)).first;
  }
  const Plan &p = it->second;
  const dnnl::engine &e = state->engine;
  memory ma(p.a, e, const_cast<void *>(a)), mb(p.b, e, const_cast<void *>(b)), mc(p.c, e, c);
  p.matmul.execute(state->streams[slot],
                   {{DNNL_ARG_SRC, ma}, {DNNL_ARG_WEIGHTS, mb}, {DNNL_ARG_DST, mc}});
  state->streams[slot].wait();
}

} // namespace kiln
