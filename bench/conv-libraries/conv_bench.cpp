// conv_bench: how should kiln's CPU runtime run 2-D convolutions (NCHW, f32)?
// Times forward, backward-data and backward-weights at the ResNet-20 / ResNet-18
// (28x28, 1 channel) shapes, batch 128, 2 threads, with five methods:
//   dnnl-plain   oneDNN 2.6 on kiln's own pointers, nchw / oihw / goihw (oneDNN then
//                picks gemm:jit, its internal im2col + GEMM); no copies.
//   dnnl-any+ro  oneDNN with format_tag::any (blocked layouts, jit:avx2 direct conv)
//                plus, inside the timed call, the reorders kiln needs each call:
//                plain inputs -> blocked, blocked output -> plain.
//   dnnl-any     the same convolution without the reorders: the ceiling if kiln kept
//                blocked layouts between ops (informative, not an option today).
//   i2c 2x1t     im2col + OpenBLAS sgemm written here; the batch split over 2
//                std::threads, each with its own col buffer, OpenBLAS at 1 thread.
//   i2c 1x2t     the same code on one thread calling OpenBLAS at 2 threads.
// im2col costs (per image, per group) K*P copies of the input, K = C/G*KH*KW, P = Ho*Wo:
//   fwd   y_g  (Og x P)  = W_g (Og x K) . col (K x P)              GEMM M=Og N=P  K=K
//   bwdd  dcol (K x P)   = W_g^T (K x Og) . dy_g (Og x P), col2im  GEMM M=K  N=P  K=Og
//   bwdw  dW_g (Og x K) += dy_g (Og x P) . col^T (P x K)           GEMM M=Og N=K  K=P
// (beta=1 over the thread's images, the second thread's partial dW added at the end).
// 1x1 stride-1 pad-0 convolutions skip im2col/col2im: col is x itself (a direct GEMM).
// Every pass of every shape is first checked against a naive double-precision
// reference at batch 2; the program exits 1 if any max relative error > 1e-4.
//
//   conv_bench [--batch N] [--reps N] [--warmup N] [--filter S] [--json FILE] [--check-only]
#include <cblas.h>
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <oneapi/dnnl/dnnl.hpp>
#include <random>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

using namespace dnnl;
using tag = memory::format_tag;
using dt = memory::data_type;

enum Pass { FWD, BWDD, BWDW };
static const char* kPass[] = {"fwd", "bwd-data", "bwd-wts"};
static const char* kMethod[] = {"dnnl-plain", "dnnl-any+ro", "dnnl-any", "i2c 2x1t", "i2c 1x2t"};
enum { M_PLAIN, M_ANY_RO, M_ANY, M_I2C_SPLIT, M_I2C_MT, NMETHOD };

// One convolution: square kernel k, stride s, symmetric pad p, groups g.
struct Conv {
  int N, C, O, H, W, k, s, p, g;
  int Ho() const { return (H + 2 * p - k) / s + 1; }
  int Wo() const { return (W + 2 * p - k) / s + 1; }
  int Cg() const { return C / g; }
  int Og() const { return O / g; }
  int K() const { return Cg() * k * k; }  // GEMM depth per group
  int P() const { return Ho() * Wo(); }   // output pixels per image
  bool direct() const { return k == 1 && s == 1 && p == 0; }
  size_t xsz() const { return (size_t)N * C * H * W; }
  size_t ysz() const { return (size_t)N * O * P(); }
  size_t wsz() const { return (size_t)O * K(); }
  double flops() const { return 2.0 * N * O * K() * P(); }  // same for all three passes
};

// A shape of the benchmark and how often it occurs in its network.
struct Shape {
  const char* net;
  int count;
  int C, O, H, k, s, p, g;
  std::string name() const {
    Conv c{1, C, O, H, H, k, s, p, g};
    char b[96];
    snprintf(b, sizeof b, "%d->%d %dx%d s%d p%d%s @%d->%d", C, O, k, k, s, p,
             g > 1 ? (" g" + std::to_string(g)).c_str() : "", H, c.Ho());
    return b;
  }
};

static const std::vector<Shape> kShapes = {
    // ResNet-20 (option A shortcuts: no conv): stem + 3 stages x 3 blocks x 2 convs.
    {"resnet20", 1, 1, 16, 28, 3, 1, 1, 1},   {"resnet20", 6, 16, 16, 28, 3, 1, 1, 1},
    {"resnet20", 1, 16, 32, 28, 3, 2, 1, 1},  {"resnet20", 5, 32, 32, 14, 3, 1, 1, 1},
    {"resnet20", 1, 32, 64, 14, 3, 2, 1, 1},  {"resnet20", 5, 64, 64, 7, 3, 1, 1, 1},
    // ResNet-18, 3x3 s1 stem, no max-pool: stem + 4 stages x 2 blocks x 2 convs + 3 downsamples.
    {"resnet18", 1, 1, 64, 28, 3, 1, 1, 1},   {"resnet18", 4, 64, 64, 28, 3, 1, 1, 1},
    {"resnet18", 1, 64, 128, 28, 3, 2, 1, 1}, {"resnet18", 3, 128, 128, 14, 3, 1, 1, 1},
    {"resnet18", 1, 128, 256, 14, 3, 2, 1, 1}, {"resnet18", 3, 256, 256, 7, 3, 1, 1, 1},
    {"resnet18", 1, 256, 512, 7, 3, 2, 1, 1}, {"resnet18", 3, 512, 512, 4, 3, 1, 1, 1},
    {"resnet18", 1, 64, 128, 28, 1, 2, 0, 1}, {"resnet18", 1, 128, 256, 14, 1, 2, 0, 1},
    {"resnet18", 1, 256, 512, 7, 1, 2, 0, 1},
    // Not in either network: depthwise, and a 1x1 stride-1 conv (the direct-GEMM case).
    {"extra", 1, 32, 32, 14, 3, 1, 1, 32},    {"extra", 1, 128, 128, 14, 1, 1, 0, 1},
};

// The tensors of one shape: inputs x, w, dy and the outputs y, dx, dw.
struct Bufs {
  std::vector<float> x, w, dy, y, dx, dw;
  explicit Bufs(const Conv& c, unsigned seed)
      : x(c.xsz()), w(c.wsz()), dy(c.ysz()), y(c.ysz()), dx(c.xsz()), dw(c.wsz()) {
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> u(-1.f, 1.f);
    for (auto* v : {&x, &w, &dy})
      for (float& f : *v) f = u(rng);
  }
  std::vector<float>& out(Pass p) { return p == FWD ? y : p == BWDD ? dx : dw; }
};

static engine& eng() {
  static engine e(engine::kind::cpu, 0);
  return e;
}
static stream& strm() {
  static stream s(eng());
  return s;
}

// oneDNN convolution, plain (any=false) or blocked (any=true) layouts. Primitives and
// reorders are built once per shape (kiln would cache them); run() only executes.
struct Dnnl {
  struct Step {
    reorder r;
    memory from, to;
  };
  primitive prim[3];
  std::unordered_map<int, memory> args[3];
  std::vector<Step> pre[3], post[3];
  std::string impl[3];

  // The memory a primitive wants for `want`: the user's own if the layouts agree,
  // else a new one with a reorder from (input) or to (output) the user's memory.
  memory bind(const memory::desc& want, const memory& user, int pass, bool in) {
    if (want == user.get_desc()) return user;
    memory m(want, eng());
    if (in) pre[pass].push_back({reorder(user, m), user, m});
    else post[pass].push_back({reorder(m, user), m, user});
    return m;
  }

  Dnnl(const Conv& c, Bufs& b, bool any) {
    memory::dims xd{c.N, c.C, c.H, c.W}, yd{c.N, c.O, c.Ho(), c.Wo()};
    memory::dims wd = c.g > 1 ? memory::dims{c.g, c.Og(), c.Cg(), c.k, c.k}
                              : memory::dims{c.O, c.C, c.k, c.k};
    tag wt = c.g > 1 ? tag::goihw : tag::oihw;
    memory::desc xu(xd, dt::f32, tag::nchw), yu(yd, dt::f32, tag::nchw), wu(wd, dt::f32, wt);
    memory::desc xm = any ? memory::desc(xd, dt::f32, tag::any) : xu;
    memory::desc ym = any ? memory::desc(yd, dt::f32, tag::any) : yu;
    memory::desc wm = any ? memory::desc(wd, dt::f32, tag::any) : wu;
    memory::dims st{c.s, c.s}, pd{c.p, c.p};
    auto fpd = convolution_forward::primitive_desc(
        convolution_forward::desc(prop_kind::forward_training, algorithm::convolution_direct,
                                  xm, wm, ym, st, pd, pd), eng());
    auto dpd = convolution_backward_data::primitive_desc(
        convolution_backward_data::desc(algorithm::convolution_direct, xm, wm, ym, st, pd, pd),
        eng(), fpd);
    auto wpd = convolution_backward_weights::primitive_desc(
        convolution_backward_weights::desc(algorithm::convolution_direct, xm, wm, ym, st, pd, pd),
        eng(), fpd);
    memory X(xu, eng(), b.x.data()), Wt(wu, eng(), b.w.data()), Y(yu, eng(), b.y.data());
    memory DY(yu, eng(), b.dy.data()), DX(xu, eng(), b.dx.data()), DW(wu, eng(), b.dw.data());
    prim[FWD] = convolution_forward(fpd);
    args[FWD] = {{DNNL_ARG_SRC, bind(fpd.src_desc(), X, FWD, true)},
                 {DNNL_ARG_WEIGHTS, bind(fpd.weights_desc(), Wt, FWD, true)},
                 {DNNL_ARG_DST, bind(fpd.dst_desc(), Y, FWD, false)}};
    prim[BWDD] = convolution_backward_data(dpd);
    args[BWDD] = {{DNNL_ARG_DIFF_DST, bind(dpd.diff_dst_desc(), DY, BWDD, true)},
                  {DNNL_ARG_WEIGHTS, bind(dpd.weights_desc(), Wt, BWDD, true)},
                  {DNNL_ARG_DIFF_SRC, bind(dpd.diff_src_desc(), DX, BWDD, false)}};
    prim[BWDW] = convolution_backward_weights(wpd);
    args[BWDW] = {{DNNL_ARG_SRC, bind(wpd.src_desc(), X, BWDW, true)},
                  {DNNL_ARG_DIFF_DST, bind(wpd.diff_dst_desc(), DY, BWDW, true)},
                  {DNNL_ARG_DIFF_WEIGHTS, bind(wpd.diff_weights_desc(), DW, BWDW, false)}};
    impl[FWD] = fpd.impl_info_str();
    impl[BWDD] = dpd.impl_info_str();
    impl[BWDW] = wpd.impl_info_str();
    for (int p = 0; p < 3; p++) {
      size_t n = pre[p].size() + post[p].size();
      if (n) impl[p] += " +" + std::to_string(n) + " reorders";
    }
  }

  void run(Pass p, bool reorders) {
    if (reorders)
      for (auto& s : pre[p]) s.r.execute(strm(), s.from, s.to);
    prim[p].execute(strm(), args[p]);
    if (reorders)
      for (auto& s : post[p]) s.r.execute(strm(), s.from, s.to);
    strm().wait();
  }
};

// ---- im2col + OpenBLAS ----

// Valid output columns [lo, hi) for kernel column e: 0 <= j*s - p + e < W.
static void col_range(const Conv& c, int e, int& lo, int& hi) {
  int Wo = c.Wo();
  lo = std::max(0, (c.p - e + c.s - 1) / c.s);
  hi = c.W - 1 + c.p - e < 0 ? 0 : std::min(Wo, (c.W - 1 + c.p - e) / c.s + 1);
  if (hi < lo) hi = lo;
}

// col[(ci*k + a)*k + e][i*Wo + j] = x[ci][i*s - p + a][j*s - p + e], 0 in the padding.
// x and col are one image's one group. Cost: K*P stores.
static void im2col(const Conv& c, const float* x, float* col) {
  const int Ho = c.Ho(), Wo = c.Wo(), P = c.P();
  for (int ci = 0; ci < c.Cg(); ci++)
    for (int a = 0; a < c.k; a++)
      for (int e = 0; e < c.k; e++) {
        float* row = col + (size_t)((ci * c.k + a) * c.k + e) * P;
        int lo, hi;
        col_range(c, e, lo, hi);
        for (int i = 0; i < Ho; i++) {
          float* r = row + i * Wo;
          int ih = i * c.s - c.p + a;
          if (ih < 0 || ih >= c.H) {
            std::memset(r, 0, Wo * sizeof(float));
            continue;
          }
          const float* xr = x + ((size_t)ci * c.H + ih) * c.W - c.p + e;
          for (int j = 0; j < lo; j++) r[j] = 0.f;
          if (c.s == 1) std::memcpy(r + lo, xr + lo, (hi - lo) * sizeof(float));
          else
            for (int j = lo; j < hi; j++) r[j] = xr[j * c.s];
          for (int j = hi; j < Wo; j++) r[j] = 0.f;
        }
      }
}

// The adjoint of im2col: every col entry added back to the x position it came from
// (overlapping windows accumulate, padding dropped). dx must be zero before.
static void col2im(const Conv& c, const float* col, float* dx) {
  const int Ho = c.Ho(), Wo = c.Wo(), P = c.P();
  for (int ci = 0; ci < c.Cg(); ci++)
    for (int a = 0; a < c.k; a++)
      for (int e = 0; e < c.k; e++) {
        const float* row = col + (size_t)((ci * c.k + a) * c.k + e) * P;
        int lo, hi;
        col_range(c, e, lo, hi);
        for (int i = 0; i < Ho; i++) {
          int ih = i * c.s - c.p + a;
          if (ih < 0 || ih >= c.H) continue;
          const float* r = row + i * Wo;
          float* xr = dx + ((size_t)ci * c.H + ih) * c.W - c.p + e;
          if (c.s == 1)
            for (int j = lo; j < hi; j++) xr[j] += r[j];
          else
            for (int j = lo; j < hi; j++) xr[j * c.s] += r[j];
        }
      }
}

struct Im2col {
  const Conv& c;
  Bufs& b;
  int split;                          // 2: batch over 2 std::threads, BLAS 1 thread; 1: BLAS 2 threads
  std::vector<std::vector<float>> col;  // per thread, K x P
  std::vector<float> dw1;             // second thread's partial dW
  Im2col(const Conv& cv, Bufs& bb, int sp)
      : c(cv), b(bb), split(sp), col(sp, std::vector<float>(cv.direct() ? 1 : (size_t)cv.K() * cv.P())),
        dw1(cv.wsz()) {}

  // One image n, all groups, for pass p; dw is this thread's dW, beta 0 on its first image.
  void image(Pass p, int n, float* colbuf, float* dw, float beta) {
    const int Cg = c.Cg(), Og = c.Og(), K = c.K(), P = c.P(), HW = c.H * c.W;
    const float* x = b.x.data() + (size_t)n * c.C * HW;
    float* dx = b.dx.data() + (size_t)n * c.C * HW;
    float* y = b.y.data() + (size_t)n * c.O * P;
    const float* dy = b.dy.data() + (size_t)n * c.O * P;
    if (p == BWDD && !c.direct()) std::memset(dx, 0, (size_t)c.C * HW * sizeof(float));
    for (int g = 0; g < c.g; g++) {
      const float* xg = x + (size_t)g * Cg * HW;
      const float* wg = b.w.data() + (size_t)g * Og * K;
      if (p == FWD) {
        const float* B = xg;
        if (!c.direct()) im2col(c, xg, colbuf), B = colbuf;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Og, P, K, 1.f, wg, K, B, P, 0.f,
                    y + (size_t)g * Og * P, P);
      } else if (p == BWDD) {
        float* D = c.direct() ? dx + (size_t)g * Cg * HW : colbuf;
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, K, P, Og, 1.f, wg, K,
                    dy + (size_t)g * Og * P, P, 0.f, D, P);
        if (!c.direct()) col2im(c, colbuf, dx + (size_t)g * Cg * HW);
      } else {
        const float* B = xg;
        if (!c.direct()) im2col(c, xg, colbuf), B = colbuf;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Og, K, P, 1.f,
                    dy + (size_t)g * Og * P, P, B, P, beta, dw + (size_t)g * Og * K, K);
      }
    }
  }

  void run(Pass p) {
    openblas_set_num_threads(split == 2 ? 1 : 2);
    auto work = [&](int t, int n0, int n1) {
      float* dw = t == 0 ? b.dw.data() : dw1.data();
      if (p == BWDW && n0 == n1) std::fill(dw, dw + c.wsz(), 0.f);
      for (int n = n0; n < n1; n++) image(p, n, col[t].data(), dw, n == n0 ? 0.f : 1.f);
    };
    if (split == 1) return work(0, 0, c.N);
    std::thread t1(work, 1, c.N / 2, c.N);
    work(0, 0, c.N / 2);
    t1.join();
    if (p == BWDW)
      for (size_t i = 0; i < c.wsz(); i++) b.dw[i] += dw1[i];
  }
};

// Naive reference in double: one loop over every (n, o, i, j, ci, a, e) term gives
// y, dx and dw together.
static void reference(const Conv& c, const Bufs& b, std::vector<double> out[3]) {
  out[FWD].assign(c.ysz(), 0.0);
  out[BWDD].assign(c.xsz(), 0.0);
  out[BWDW].assign(c.wsz(), 0.0);
  const int Ho = c.Ho(), Wo = c.Wo();
  for (int n = 0; n < c.N; n++)
    for (int o = 0; o < c.O; o++) {
      int g = o / c.Og();
      for (int i = 0; i < Ho; i++)
        for (int j = 0; j < Wo; j++) {
          size_t yi = (((size_t)n * c.O + o) * Ho + i) * Wo + j;
          double acc = 0, d = b.dy[yi];
          for (int ci = 0; ci < c.Cg(); ci++)
            for (int a = 0; a < c.k; a++)
              for (int e = 0; e < c.k; e++) {
                int ih = i * c.s - c.p + a, iw = j * c.s - c.p + e;
                if (ih < 0 || ih >= c.H || iw < 0 || iw >= c.W) continue;
                size_t xi = (((size_t)n * c.C + g * c.Cg() + ci) * c.H + ih) * c.W + iw;
                size_t wi = (((size_t)o * c.Cg() + ci) * c.k + a) * c.k + e;
                acc += (double)b.x[xi] * b.w[wi];
                out[BWDD][xi] += d * b.w[wi];
                out[BWDW][wi] += d * b.x[xi];
              }
          out[FWD][yi] = acc;
        }
    }
}

// Runs method m for pass p on the shape's buffers.
struct Runner {
  Dnnl plain, any;
  Im2col split, mt;
  Runner(const Conv& c, Bufs& b) : plain(c, b, false), any(c, b, true), split(c, b, 2), mt(c, b, 1) {}
  void run(int m, Pass p) {
    switch (m) {
      case M_PLAIN: plain.run(p, false); break;
      case M_ANY_RO: any.run(p, true); break;
      case M_ANY: any.run(p, false); break;
      case M_I2C_SPLIT: split.run(p); break;
      default: mt.run(p); break;
    }
  }
  std::string impl(int m, Pass p) {
    if (m == M_PLAIN) return plain.impl[p];
    if (m == M_ANY_RO || m == M_ANY) return any.impl[p];
    return c_direct ? "gemm (no im2col)" : "im2col+gemm";
  }
  bool c_direct = false;
};

// Batch-2 check of one shape: max over passes of max|out - ref| / max|ref| per method.
static bool check(const Shape& s) {
  Conv c{2, s.C, s.O, s.H, s.H, s.k, s.s, s.p, s.g};
  Bufs b(c, 7);
  std::vector<double> ref[3];
  reference(c, b, ref);
  Runner r(c, b);
  bool ok = true;
  printf("  %-30s", s.name().c_str());
  for (int m = 0; m < NMETHOD; m++) {
    if (m == M_ANY) continue;  // same convolution as dnnl-any+ro
    double worst = 0;
    for (int p = 0; p < 3; p++) {
      auto& out = b.out((Pass)p);
      std::fill(out.begin(), out.end(), std::nanf(""));
      r.run(m, (Pass)p);
      double diff = 0, mag = 0;
      for (size_t i = 0; i < out.size(); i++) {
        double d = std::fabs(out[i] - ref[p][i]);
        diff = std::isnan(d) ? INFINITY : std::max(diff, d);
        mag = std::max(mag, std::fabs(ref[p][i]));
      }
      worst = std::max(worst, diff / mag);
    }
    printf(" %s %.1e", kMethod[m], worst);
    ok = ok && worst <= 1e-4;
  }
  printf("%s\n", ok ? "" : "  FAIL");
  return ok;
}

static double now_ms() {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

int main(int argc, char** argv) {
  int batch = 128, reps = 10, warmup = 3;
  bool check_only = false;
  std::string filter, json = "build/bench/conv-libraries/results.json";
  for (int i = 1; i < argc; i++) {
    std::string a = argv[i];
    auto next = [&]() { return i + 1 < argc ? std::string(argv[++i]) : std::string(); };
    if (a == "--batch") batch = std::atoi(next().c_str());
    else if (a == "--reps") reps = std::atoi(next().c_str());
    else if (a == "--warmup") warmup = std::atoi(next().c_str());
    else if (a == "--filter") filter = next();
    else if (a == "--json") json = next();
    else if (a == "--check-only") check_only = true;
    else { fprintf(stderr, "usage: %s [--batch N] [--reps N] [--warmup N] [--filter S] [--json F] [--check-only]\n", argv[0]); return 2; }
  }
  omp_set_num_threads(2);  // oneDNN's OpenMP pool
  auto* v = dnnl::version();
  printf("oneDNN %d.%d.%d (%s), OpenBLAS %s, batch %d, 2 threads, median of %d after %d warm-ups\n",
         v->major, v->minor, v->patch, v->cpu_runtime == DNNL_RUNTIME_OMP ? "OpenMP" : "other",
         openblas_get_corename(), batch, reps, warmup);

  std::vector<Shape> shapes;
  for (auto& s : kShapes)
    if (filter.empty() || (std::string(s.net) + " " + s.name()).find(filter) != std::string::npos)
      shapes.push_back(s);
  printf("\ncorrectness, batch 2, max relative error (max|diff| / max|ref|) over fwd, bwd-data, bwd-wts:\n");
  bool ok = true;
  for (auto& s : shapes) ok = check(s) && ok;
  if (!ok) { printf("FAILED: some method exceeds 1e-4\n"); return 1; }
  if (check_only) return 0;

  FILE* jf = fopen(json.c_str(), "w");
  if (!jf) { perror(json.c_str()); return 1; }
  // ms[net][pass][method] summed with counts; best: per shape and pass, the fastest real method.
  std::map<std::string, std::vector<std::vector<double>>> tot, tmin;  // medians; fastest calls
  std::vector<std::string> nets;
  for (auto& s : shapes) {
    Conv c{batch, s.C, s.O, s.H, s.H, s.k, s.s, s.p, s.g};
    Bufs b(c, 11);
    Runner r(c, b);
    r.c_direct = c.direct();
    if (!tot.count(s.net)) {
      tot[s.net].assign(3, std::vector<double>(NMETHOD + 1, 0.0));
      tmin[s.net] = tot[s.net];
      nets.push_back(s.net);
    }
    printf("\n%s x%d  %s  (%.2f GFLOP per pass; ms per call / GFLOP/s)\n", s.net, s.count,
           s.name().c_str(), c.flops() / 1e9);
    printf("  %-9s", "");
    for (int m = 0; m < NMETHOD; m++) printf(" %16s", kMethod[m]);
    printf("\n");
    for (int p = 0; p < 3; p++) {
      printf("  %-9s", kPass[p]);
      double best = INFINITY, bestmin = INFINITY;
      for (int m = 0; m < NMETHOD; m++) {
        for (int i = 0; i < warmup; i++) r.run(m, (Pass)p);
        std::vector<double> t(reps);
        for (int i = 0; i < reps; i++) {
          double t0 = now_ms();
          r.run(m, (Pass)p);
          t[i] = now_ms() - t0;
        }
        std::sort(t.begin(), t.end());
        double med = reps % 2 ? t[reps / 2] : 0.5 * (t[reps / 2 - 1] + t[reps / 2]);
        double gf = c.flops() / med / 1e6;
        printf(" %9.2f/%6.1f", med, gf);
        fflush(stdout);
        fprintf(jf,
                "{\"net\":\"%s\",\"shape\":\"%s\",\"count\":%d,\"batch\":%d,\"pass\":\"%s\","
                "\"method\":\"%s\",\"impl\":\"%s\",\"ms\":%.4f,\"min_ms\":%.4f,\"max_ms\":%.4f,"
                "\"gflops\":%.2f}\n",
                s.net, s.name().c_str(), s.count, batch, kPass[p], kMethod[m], r.impl(m, (Pass)p).c_str(),
                med, t.front(), t.back(), gf);
        tot[s.net][p][m] += s.count * med;
        tmin[s.net][p][m] += s.count * t.front();
        if (m != M_ANY) best = std::min(best, med), bestmin = std::min(bestmin, t.front());
        // OpenBLAS's idle pthreads spin ~0.1 s after a call: let them sleep before oneDNN runs.
        if (m == M_I2C_MT) std::this_thread::sleep_for(std::chrono::milliseconds(150));
      }
      tot[s.net][p][NMETHOD] += s.count * best;
      tmin[s.net][p][NMETHOD] += s.count * bestmin;
      printf("\n");
    }
    printf("  impl: plain %s | any %s\n", r.impl(M_PLAIN, FWD).c_str(), r.impl(M_ANY, FWD).c_str());
  }

  // Per network: one training step's convolutions, each shape times its count.
  for (auto& net : nets) {
    auto& t = tot[net];
    printf("\n%s, one step's convolutions (ms, shapes x count):\n  %-9s", net.c_str(), "");
    for (int m = 0; m < NMETHOD; m++) printf(" %12s", kMethod[m]);
    printf(" %12s\n", "best/shape");
    double sum[NMETHOD + 1] = {};
    for (int p = 0; p < 3; p++) {
      printf("  %-9s", kPass[p]);
      for (int m = 0; m <= NMETHOD; m++) printf(" %12.1f", t[p][m]), sum[m] += t[p][m];
      printf("\n");
    }
    printf("SUMMARY %s step convs ms:", net.c_str());
    for (int m = 0; m < NMETHOD; m++) printf(" %s %.1f |", kMethod[m], sum[m]);
    printf(" best-per-shape %.1f\n", sum[NMETHOD]);
    // The same from each shape's fastest call: less sensitive to other load on the machine.
    double mins[NMETHOD + 1] = {};
    for (int p = 0; p < 3; p++)
      for (int m = 0; m <= NMETHOD; m++) mins[m] += tmin[net][p][m];
    printf("  (fastest calls:");
    for (int m = 0; m < NMETHOD; m++) printf(" %s %.1f |", kMethod[m], mins[m]);
    printf(" best-per-shape %.1f)\n", mins[NMETHOD]);
    fprintf(jf, "{\"summary\":\"%s\",\"batch\":%d", net.c_str(), batch);
    for (int m = 0; m < NMETHOD; m++)
      fprintf(jf, ",\"%s\":{\"fwd\":%.3f,\"bwd-data\":%.3f,\"bwd-wts\":%.3f,\"total\":%.3f}", kMethod[m],
              t[FWD][m], t[BWDD][m], t[BWDW][m], sum[m]);
    fprintf(jf, ",\"best-per-shape\":%.3f,\"min_total\":{", sum[NMETHOD]);
    for (int m = 0; m <= NMETHOD; m++)
      fprintf(jf, "%s\"%s\":%.3f", m ? "," : "", m < NMETHOD ? kMethod[m] : "best-per-shape", mins[m]);
    fprintf(jf, "}}\n");
  }
  fclose(jf);
  return 0;
}
