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

/// A primitive and its operands' memory objects, which each call points at
/// its matrices (set_data_handle: making them per call cost more than the
/// attention's 50×16×50 products).
struct Plan {
  dnnl::matmul matmul;
  memory a, b, c;
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
    const dnnl::engine &e = state->engine;
    memory::desc ad = matrix(m, k, lda, transA, in), bd = matrix(k, n, ldb, transB, in),
                 cd = matrix(m, n, ldc, false, out);
    Plan p{dnnl::matmul(dnnl::matmul::primitive_desc(dnnl::matmul::desc(ad, bd, cd), e)),
           memory(ad, e, DNNL_MEMORY_NONE), memory(bd, e, DNNL_MEMORY_NONE),
           memory(cd, e, DNNL_MEMORY_NONE)};
    it = plans.emplace(key, std::move(p)).first;
  }
  Plan &p = it->second;
  p.a.set_data_handle(const_cast<void *>(a));
  p.b.set_data_handle(const_cast<void *>(b));
  p.c.set_data_handle(c);
  p.matmul.execute(state->streams[slot],
                   {{DNNL_ARG_SRC, p.a}, {DNNL_ARG_WEIGHTS, p.b}, {DNNL_ARG_DST, p.c}});
  state->streams[slot].wait();
}

} // namespace kiln
