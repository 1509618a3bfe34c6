//===- DnnlMatmul.cpp - matrix products on oneDNN -------------------------===//
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

/// `batch` plain row-major [rows × cols] matrices `stride` elements apart
/// (or their transposes), with leading dimension `ld`, as the logical
/// [batch, rows, cols] operand; stride 0 is one matrix broadcast.
memory::desc matrices(int64_t batch, int64_t stride, int64_t rows, int64_t cols, int64_t ld,
                      bool transposed, DType d) {
  memory::dims inner = transposed ? memory::dims{1, ld} : memory::dims{ld, 1};
  if (batch == 1)
    return memory::desc({rows, cols}, dnnlType(d), inner);
  if (stride == 0)
    return memory::desc({1, rows, cols}, dnnlType(d), {rows * cols, inner[0], inner[1]});
  return memory::desc({batch, rows, cols}, dnnlType(d), {stride, inner[0], inner[1]});
}

/// A primitive and its operands' memory objects, which each call points at
/// its matrices (set_data_handle: making them per call cost more than the
/// attention's 50×16×50 products).
struct Plan {
  dnnl::matmul matmul;
  memory a, b, c;
};

using Key = std::tuple<int, int, bool, bool, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t,
                       int64_t, int64_t, int64_t, int64_t>;

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

void DnnlMatmul::run(int64_t slot, DType in, DType out, const Shape &s, const void *a,
                     const void *b, void *c) {
  omp_set_num_threads(1); // Debian's oneDNN threads with OpenMP
  Key key{int(in), int(out), s.transA, s.transB, s.m,     s.n,       s.k,
          s.lda,   s.ldb,   s.ldc,    s.batch,  s.strideA, s.strideB, s.strideC};
  auto &plans = state->plans[slot];
  auto it = plans.find(key);
  if (it == plans.end()) {
    const dnnl::engine &e = state->engine;
    memory::desc ad = matrices(s.batch, s.strideA, s.m, s.k, s.lda, s.transA, in),
                 bd = matrices(s.batch, s.strideB, s.k, s.n, s.ldb, s.transB, in),
                 cd = matrices(s.batch, s.strideC, s.m, s.n, s.ldc, false, out);
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
