//===- Blas.cpp - the GEMM library, loaded at run time --------------------===//
#include "runtime/exec/Blas.h"

#include <cstdlib>
#include <dlfcn.h>
#include <mutex>

namespace kiln {
namespace {

// CBLAS enum values.
constexpr int kRowMajor = 101, kNoTrans = 111, kTrans = 112;

/// The OpenBLAS core type for this CPU, or null to let OpenBLAS decide.
const char *coreTypeForCpu() {
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512bf16"))
    return "Cooperlake";
  if (__builtin_cpu_supports("avx512f"))
    return "SkylakeX";
  if (__builtin_cpu_supports("avx2"))
    return "Haswell";
  return nullptr;
}

} // namespace

Blas *Blas::get(std::string &error) {
  static Blas blas;
  static std::string loadError;
  static std::once_flag once;
  std::call_once(once, [] {
    const char *core = getenv("OPENBLAS_CORETYPE");
    if (!core && (core = coreTypeForCpu()))
      setenv("OPENBLAS_CORETYPE", core, 0);
    setenv("OPENBLAS_NUM_THREADS", "1", 0); // kiln's own threads split the work
    void *lib = nullptr;
    for (const char *name : {"libopenblas.so.0", "libopenblas.so"})
      if ((lib = dlopen(name, RTLD_NOW | RTLD_LOCAL)))
        break;
    if (!lib) {
      loadError = "cannot load OpenBLAS (apt-get install libopenblas0): " +
                  std::string(dlerror());
      return;
    }
    blas.fn = reinterpret_cast<SgemmFn>(dlsym(lib, "cblas_sgemm"));
    if (!blas.fn) {
      loadError = "OpenBLAS has no cblas_sgemm";
      return;
    }
    if (auto setThreads = reinterpret_cast<void (*)(int)>(dlsym(lib, "openblas_set_num_threads")))
      setThreads(1);
    auto config = reinterpret_cast<const char *(*)()>(dlsym(lib, "openblas_get_config"));
    auto coreName = reinterpret_cast<const char *(*)()>(dlsym(lib, "openblas_get_corename"));
    blas.description = std::string(config ? config() : "OpenBLAS") + " (core " +
                       (coreName ? coreName() : "?") + ")";
  });
  if (!blas.fn) {
    error = loadError;
    return nullptr;
  }
  return &blas;
}

void Blas::sgemm(bool transA, bool transB, int m, int n, int k, const float *a, int lda,
                 const float *b, int ldb, float *c, int ldc, float beta) const {
  fn(kRowMajor, transA ? kTrans : kNoTrans, transB ? kTrans : kNoTrans, m, n, k, 1.0f, a,
     lda, b, ldb, beta, c, ldc);
}

} // namespace kiln
