//===- GemmShapes.cpp - GEMM libraries at the supervised ViT's shapes -----===//
//
// Single-thread GFLOP/s of each GEMM of the vit-fm train step (batch 128:
// 6,400 token rows, dims 16..256, the weight gradients with K = 6,400, the
// attention's 512 small products), through kiln's OpenBLAS loader (core
// type from OPENBLAS_CORETYPE, or kiln's choice) and, when built with it,
// oneDNN's dnnl_sgemm. kiln splits every GEMM over its own threads, so the
// single-thread rate is the one that matters. Prints one JSON line per
// shape; bench/gemm-libraries runs it per library and core type.
//
//===----------------------------------------------------------------------===//
#include "runtime/exec/Blas.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#ifdef KILN_HAVE_DNNL
#include <oneapi/dnnl/dnnl.h>
#endif

namespace {

struct Shape {
  const char *what;
  int m, n, k, batch;
  bool ta, tb;
};

const Shape kShapes[] = {
    {"patch_embed", 6272, 64, 16, 1, false, true},
    {"qkv", 6400, 192, 64, 1, false, true},
    {"proj", 6400, 64, 64, 1, false, true},
    {"fc1", 6400, 256, 64, 1, false, true},
    {"fc2", 6400, 64, 256, 1, false, true},
    {"fc1 dX", 6400, 64, 256, 1, false, false},
    {"fc1 dW", 256, 64, 6400, 1, true, false},
    {"attention QK^T", 50, 50, 16, 512, false, true},
    {"attention PV", 50, 16, 50, 512, false, false},
};

} // namespace

int main(int argc, char **argv) {
  std::string library = argc > 1 ? argv[1] : "openblas";
  std::string error;
  kiln::Blas *blas = library == "openblas" ? kiln::Blas::get(error) : nullptr;
  if (library == "openblas" && !blas) {
    std::fprintf(stderr, "%s\n", error.c_str());
    return 1;
  }
#ifndef KILN_HAVE_DNNL
  if (library == "onednn") {
    std::fprintf(stderr, "built without oneDNN (apt-get install libdnnl-dev, reconfigure)\n");
    return 1;
  }
#endif
  for (const Shape &s : kShapes) {
    std::vector<float> a(size_t(s.m) * s.k * s.batch, 0.5f), b(size_t(s.k) * s.n * s.batch, 0.25f),
        c(size_t(s.m) * s.n * s.batch);
    int lda = s.ta ? s.m : s.k, ldb = s.tb ? s.k : s.n;
    auto once = [&] {
      for (int i = 0; i < s.batch; ++i) {
        const float *ai = a.data() + size_t(i) * s.m * s.k;
        const float *bi = b.data() + size_t(i) * s.k * s.n;
        float *ci = c.data() + size_t(i) * s.m * s.n;
        if (blas)
          blas->sgemm(s.ta, s.tb, s.m, s.n, s.k, ai, lda, bi, ldb, ci, s.n);
#ifdef KILN_HAVE_DNNL
        else
          dnnl_sgemm(s.ta ? 'T' : 'N', s.tb ? 'T' : 'N', s.m, s.n, s.k, 1.0f, ai, lda, bi, ldb,
                     0.0f, ci, s.n);
#endif
      }
    };
    once();
    double best = 1e9;
    for (int rep = 0; rep < 7; ++rep) {
      auto t0 = std::chrono::steady_clock::now();
      once();
      best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    }
    double gflops = 2.0 * s.m * s.n * s.k * s.batch / best / 1e9;
    std::printf("{\"library\": \"%s\", \"core\": \"%s\", \"gemm\": \"%s\", \"m\": %d, \"n\": %d, "
                "\"k\": %d, \"batch\": %d, \"ms\": %.3f, \"gflops\": %.1f}\n",
                library.c_str(), blas ? blas->description.c_str() : "onednn", s.what, s.m, s.n,
                s.k, s.batch, best * 1e3, gflops);
  }
  return 0;
}
