//===- DnnlConvolutions.cpp - conv thunks on oneDNN's primitives ----------===//
//
// A pass reads two tensors and writes one (ConvCall):
//   forward      src, weights     -> dst
//   input grad   diff_dst, weights -> diff_src
//   weight grad  src, diff_dst     -> diff_weights
// Each goes NCHW -> the primitive's blocked layout (a reorder, skipped when
// the layouts agree), the primitive runs, and its output comes back to
// NCHW; 2·N·O·Ho·Wo·C/g·KH·KW flops a pass, plus a read and a write of
// each tensor per reorder.
//
//===----------------------------------------------------------------------===//
#include "runtime/exec/DnnlConvolutions.h"

#include "runtime/artifact/LowFloat.h"

#include <algorithm>
#include <cstdlib>
#include <new>
#include <oneapi/dnnl/dnnl.hpp>
#include <omp.h>
#include <unordered_map>

namespace kiln {

using dnnl::memory;
using Tag = memory::format_tag;

namespace {

constexpr size_t kAlign = 64;
size_t aligned(size_t bytes) { return (bytes + kAlign - 1) / kAlign * kAlign; }

struct FreeBytes {
  void operator()(std::byte *p) const { std::free(p); }
};

/// Primitives made and run on the calling thread alone (see the header):
/// an OpenMP setting of each thread, set before each use and left so (kiln
/// has no other OpenMP code).
void singleThreaded() { omp_set_num_threads(1); }

} // namespace

struct DnnlConvolutions::State {
  dnnl::engine engine{dnnl::engine::kind::cpu, 0};
  std::vector<dnnl::stream> streams; // per thread
  std::vector<std::unique_ptr<std::byte, FreeBytes>> slabs;
  std::vector<size_t> slabBytes;

  std::byte *slab(int64_t thread, size_t bytes) {
    if (slabBytes[thread] < bytes) {
      slabs[thread].reset(static_cast<std::byte *>(std::aligned_alloc(kAlign, aligned(bytes))));
      if (!slabs[thread])
        throw std::bad_alloc();
      slabBytes[thread] = bytes;
    }
    return slabs[thread].get();
  }
};

/// One tensor of a pass: its NCHW (or [g,]OIHW) layout, the primitive's,
/// and the reorder between them when they differ; `offset` places its
/// blocked copy in a thread's slab.
struct Operand {
  int arg = 0;
  memory::desc plain, blocked;
  dnnl::reorder reorder;
  bool reordered = false;
  size_t offset = 0;
};

struct DnnlConvolutions::Plan {
  dnnl::primitive conv;
  Operand in[2], out;
  size_t scratchpadOffset = 0, partialOffset = 0, slabBytes = 0;
  memory::desc scratchpad;
};

bool DnnlConvolutions::suits(const ConvGeometry &g) {
  bool depthwise = g.groups == g.c && g.groups == g.o;
  return g.kh * g.kw > 1 && (g.c / g.groups >= 16 || (depthwise && g.c >= 16));
}

DnnlConvolutions::DnnlConvolutions() : state(std::make_unique<State>()) {}
DnnlConvolutions::~DnnlConvolutions() = default;

DnnlConvolutions::Plan *DnnlConvolutions::plan(ConvCall::Pass pass, ConvGeometry g,
                                               int64_t images, DType type) {
  g.n = images;
  std::vector<int64_t> key = g.key();
  key.insert(key.end(), {pass, static_cast<int64_t>(type)});
  auto [it, fresh] = plans.try_emplace(key);
  if (!fresh)
    return it->second.get();
  singleThreaded();
  try {
    it->second = makePlan(pass, g, type);
  } catch (const dnnl::error &) {
    // No kernel for this type on this CPU (bf16 without AVX512-BF16).
  }
  return it->second.get();
}

std::unique_ptr<DnnlConvolutions::Plan> DnnlConvolutions::makePlan(ConvCall::Pass pass,
                                                                   const ConvGeometry &g,
                                                                   DType type) {
  const dnnl::engine &engine = state->engine;
  memory::data_type dt = type == DType::BF16 ? memory::data_type::bf16 : memory::data_type::f32;
  auto md = [&](memory::dims dims, Tag tag, memory::data_type t) { return memory::desc(dims, t, tag); };
  memory::dims image{g.n, g.c, g.h, g.w}, result{g.n, g.o, g.ho, g.wo};
  memory::dims weights = g.groups == 1
                             ? memory::dims{g.o, g.c, g.kh, g.kw}
                             : memory::dims{g.groups, g.o / g.groups, g.c / g.groups, g.kh, g.kw};
  Tag weightTag = g.groups == 1 ? Tag::oihw : Tag::goihw;
  memory::dims strides{g.stride[0], g.stride[1]}, padL{g.pad[0], g.pad[1]},
      padR{g.pad[2], g.pad[3]}, dilates{g.dilation[0] - 1, g.dilation[1] - 1};
  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  auto algorithm = dnnl::algorithm::convolution_direct;
  // Every pass needs the forward's descriptor as a hint.
  dnnl::convolution_forward::primitive_desc forward(
      dnnl::convolution_forward::desc(dnnl::prop_kind::forward_training, algorithm,
                                      md(image, Tag::any, dt), md(weights, Tag::any, dt),
                                      md(result, Tag::any, dt), strides, dilates, padL, padR),
      attr, engine);

  auto plan = std::make_unique<Plan>();
  auto operand = [&](Operand &o, int arg, memory::desc plain, memory::desc blocked) {
    o.arg = arg, o.plain = plain, o.blocked = blocked;
    o.reordered = plain != blocked;
  };
  memory::desc imageMd = md(image, Tag::nchw, dt), resultMd = md(result, Tag::nchw, dt),
               weightMd = md(weights, weightTag, dt);
  // The weight gradient sums over images in f32: its partials stay f32.
  memory::desc weightSumMd = md(weights, weightTag, memory::data_type::f32);
  switch (pass) {
  case ConvCall::Forward:
    plan->conv = dnnl::convolution_forward(forward);
    operand(plan->in[0], DNNL_ARG_SRC, imageMd, forward.src_desc());
    operand(plan->in[1], DNNL_ARG_WEIGHTS, weightMd, forward.weights_desc());
    operand(plan->out, DNNL_ARG_DST, resultMd, forward.dst_desc());
    plan->scratchpad = forward.scratchpad_desc();
    break;
  case ConvCall::InputGrad: {
    dnnl::convolution_backward_data::primitive_desc pd(
        dnnl::convolution_backward_data::desc(algorithm, md(image, Tag::any, dt),
                                              md(weights, Tag::any, dt), md(result, Tag::any, dt),
                                              strides, dilates, padL, padR),
        attr, engine, forward);
    plan->conv = dnnl::convolution_backward_data(pd);
    operand(plan->in[0], DNNL_ARG_DIFF_DST, resultMd, pd.diff_dst_desc());
    operand(plan->in[1], DNNL_ARG_WEIGHTS, weightMd, pd.weights_desc());
    operand(plan->out, DNNL_ARG_DIFF_SRC, imageMd, pd.diff_src_desc());
    plan->scratchpad = pd.scratchpad_desc();
    break;
  }
  case ConvCall::WeightGrad: {
    dnnl::convolution_backward_weights::primitive_desc pd(
        dnnl::convolution_backward_weights::desc(algorithm, md(image, Tag::any, dt),
                                                 md(weights, Tag::any, memory::data_type::f32),
                                                 md(result, Tag::any, dt),
                                                 strides, dilates, padL, padR),
        attr, engine, forward);
    plan->conv = dnnl::convolution_backward_weights(pd);
    operand(plan->in[0], DNNL_ARG_SRC, imageMd, pd.src_desc());
    operand(plan->in[1], DNNL_ARG_DIFF_DST, resultMd, pd.diff_dst_desc());
    operand(plan->out, DNNL_ARG_DIFF_WEIGHTS, weightSumMd, pd.diff_weights_desc());
    plan->scratchpad = pd.scratchpad_desc();
    break;
  }
  }
  // The slab: blocked copies, the largest scratchpad, the partial sum.
  size_t at = 0, scratchpadBytes = plan->scratchpad.get_size();
  for (Operand *o : {&plan->in[0], &plan->in[1], &plan->out}) {
    if (!o->reordered)
      continue;
    dnnl::reorder::primitive_desc pd =
        o == &plan->out ? dnnl::reorder::primitive_desc(engine, o->blocked, engine, o->plain, attr)
                        : dnnl::reorder::primitive_desc(engine, o->plain, engine, o->blocked, attr);
    o->reorder = dnnl::reorder(pd);
    scratchpadBytes = std::max(scratchpadBytes, pd.scratchpad_desc().get_size());
    o->offset = at;
    at += aligned(o->blocked.get_size());
  }
  plan->scratchpad = memory::desc({static_cast<memory::dim>(scratchpadBytes)},
                                  memory::data_type::u8, Tag::x);
  plan->scratchpadOffset = at;
  at += aligned(scratchpadBytes);
  plan->partialOffset = at;
  if (pass == ConvCall::WeightGrad)
    at += aligned(weightSumMd.get_size());
  plan->slabBytes = at;
  return plan;
}

bool DnnlConvolutions::run(const ConvCall &call, DType type, void *input, void *weight,
                           void *result, ThreadPool &pool) {
  const ConvGeometry &g = call.geometry;
  int64_t threads = std::min<int64_t>(pool.size(), g.n);
  auto first = [&](int64_t t) { return g.n * t / threads; };
  // Each thread's plan (at most two sizes), made here rather than in the threads.
  std::vector<Plan *> shares(threads);
  for (int64_t t = 0; t < threads; ++t)
    if (!(shares[t] = plan(call.pass, g, first(t + 1) - first(t), type)))
      return false;
  size_t elementBytes = type == DType::BF16 ? 2 : 4;
  auto at = [&](void *base, int64_t elements) {
    return static_cast<std::byte *>(base) + elements * elementBytes;
  };
  // An f32 weight gradient is summed into the weight buffer from thread
  // 0's partial on; a bf16 one in f32 partials, rounded at the end.
  bool sumInPlace = type == DType::F32;
  if (state->streams.size() < static_cast<size_t>(threads)) {
    state->streams.resize(threads);
    state->slabs.resize(threads);
    state->slabBytes.resize(threads, 0);
  }
  for (int64_t t = 0; t < threads; ++t) {
    state->slab(t, shares[t]->slabBytes);
    if (!state->streams[t])
      state->streams[t] = dnnl::stream(state->engine);
  }
  int64_t inImage = g.c * g.h * g.w, outImage = g.o * g.ho * g.wo;
  int64_t weightSize = g.o * (g.c / g.groups) * g.kh * g.kw;
  pool.run(threads, [&](int64_t t) {
    singleThreaded();
    Plan &p = *shares[t];
    std::byte *slab = state->slabs[t].get();
    void *images = at(input, first(t) * inImage), *results = at(result, first(t) * outImage);
    // The pass's tensors in NCHW: this thread's images, or all the weights
    // (the weight gradient into a partial sum, but for the first thread's
    // in f32).
    void *data[3];
    switch (call.pass) {
    case ConvCall::Forward: data[0] = images, data[1] = weight, data[2] = results; break;
    case ConvCall::InputGrad: data[0] = results, data[1] = weight, data[2] = images; break;
    case ConvCall::WeightGrad:
      data[0] = images, data[1] = results;
      data[2] = t == 0 && sumInPlace ? weight : slab + p.partialOffset;
      break;
    }
    dnnl::stream &stream = state->streams[t];
    memory scratchpad(p.scratchpad, state->engine, slab + p.scratchpadOffset);
    std::unordered_map<int, memory> args{{DNNL_ARG_SCRATCHPAD, scratchpad}};
    Operand *operands[3] = {&p.in[0], &p.in[1], &p.out};
    memory plain[3];
    for (int i = 0; i < 3; ++i) {
      Operand &o = *operands[i];
      plain[i] = memory(o.plain, state->engine, data[i]);
      args[o.arg] = o.reordered ? memory(o.blocked, state->engine, slab + o.offset) : plain[i];
      if (i < 2 && o.reordered)
        o.reorder.execute(stream, {{DNNL_ARG_FROM, plain[i]},
                                   {DNNL_ARG_TO, args[o.arg]},
                                   {DNNL_ARG_SCRATCHPAD, scratchpad}});
    }
    p.conv.execute(stream, args);
    if (p.out.reordered)
      p.out.reorder.execute(stream, {{DNNL_ARG_FROM, args[p.out.arg]},
                                     {DNNL_ARG_TO, plain[2]},
                                     {DNNL_ARG_SCRATCHPAD, scratchpad}});
    stream.wait();
  });
  if (call.pass != ConvCall::WeightGrad)
    return true;
  auto partial = [&](int64_t t) {
    return reinterpret_cast<float *>(state->slabs[t].get() + shares[t]->partialOffset);
  };
  float *sum = sumInPlace ? static_cast<float *>(weight) : partial(0);
  for (int64_t t = 1; t < threads; ++t) {
    const float *p = partial(t);
    for (int64_t i = 0; i < weightSize; ++i)
      sum[i] += p[i];
  }
  if (!sumInPlace)
    for (int64_t i = 0; i < weightSize; ++i)
      setFloatAt(weight, type, i, sum[i]);
  return true;
}

} // namespace kiln
