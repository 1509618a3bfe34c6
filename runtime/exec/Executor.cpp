//===- Executor.cpp - load an artifact and replay its thunks --------------===//
#include "runtime/exec/Executor.h"

#include "runtime/artifact/Crc32.h"
#include "runtime/data/Random.h"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <dlfcn.h>
#include <sstream>

namespace kiln {
namespace {

uint8_t *allocate(int64_t bytes) {
  void *p = nullptr;
  if (posix_memalign(&p, 64, std::max<int64_t>(bytes, 64)) != 0)
    return nullptr;
  std::memset(p, 0, std::max<int64_t>(bytes, 64));
  return static_cast<uint8_t *>(p);
}

std::string storedDtype(const std::string &dtype) {
  return dtype == "f32" ? "F32" : dtype == "i32" ? "I32" : "BOOL";
}

} // namespace

bool cpuSupports(const std::string &cpu, const std::string &features, std::string &missing) {
  __builtin_cpu_init();
  std::vector<std::string> need;
  if (cpu == "x86-64-v2")
    need = {"sse4.2", "popcnt"};
  else if (cpu == "x86-64-v3")
    need = {"sse4.2", "popcnt", "avx2", "fma", "bmi2"};
  else if (cpu == "x86-64-v4")
    need = {"avx2", "fma", "avx512f", "avx512bw", "avx512dq", "avx512vl"};
  std::stringstream ss(features);
  for (std::string f; std::getline(ss, f, ',');)
    if (f.size() > 1 && f[0] == '+')
      need.push_back(f.substr(1));
  // The features __builtin_cpu_supports can test; others are not checked.
  auto supported = [](const std::string &f) -> int {
#define KILN_FEATURE(name)                                                     \
  if (f == name)                                                               \
    return __builtin_cpu_supports(name) ? 1 : 0;
    KILN_FEATURE("sse4.2") KILN_FEATURE("popcnt") KILN_FEATURE("avx") KILN_FEATURE("avx2")
    KILN_FEATURE("fma") KILN_FEATURE("bmi2") KILN_FEATURE("avx512f") KILN_FEATURE("avx512bw")
    KILN_FEATURE("avx512dq") KILN_FEATURE("avx512vl") KILN_FEATURE("avx512cd")
    KILN_FEATURE("avx512bf16") KILN_FEATURE("avx512vnni")
#undef KILN_FEATURE
    return -1;
  };
  missing.clear();
  for (const std::string &f : need)
    if (supported(f) == 0)
      missing += (missing.empty() ? "" : ", ") + f;
  return missing.empty();
}

std::unique_ptr<Executor> Executor::load(const std::string &dir, int threads,
                                         std::string &error, int cudaDevice,
                                         const DeviceOpener &openDevice) {
  std::unique_ptr<Executor> e(new Executor(std::max(1, threads)));
  Manifest &m = e->m;
  if (!readManifest(dir + "/manifest.json", m, error))
    return nullptr;
  for (auto &[name, f] : m.files) {
    uint32_t crc;
    int64_t bytes;
    std::string path = dir + "/" + name;
    if (!fileCrc32(path, crc, bytes)) {
      error = path + ": missing from the artifact";
      return nullptr;
    }
    if (bytes != f.bytes) {
      error = path + ": " + std::to_string(bytes) + " bytes, the manifest says " +
              std::to_string(f.bytes) + (bytes < f.bytes ? " (truncated)" : "");
      return nullptr;
    }
    if (crc != f.crc32) {
      error = path + ": checksum mismatch (the file was modified or damaged)";
      return nullptr;
    }
  }
  std::string missing;
  if (!cpuSupports(m.cpu, m.cpuFeatures, missing)) {
    error = dir + "/kernels.so was compiled for CPU '" + m.cpu + "' and needs " + missing +
            ", which this CPU lacks; recompile with --cpu=host on this machine";
    return nullptr;
  }
  if (!(e->blas = Blas::get(error)))
    return nullptr;
  std::string lib = dir + "/kernels.so";
  e->library = dlopen(lib.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!e->library) {
    error = lib + ": cannot load: " + dlerror();
    return nullptr;
  }
  for (const Kernel &k : m.compiled.kernels) {
    auto fn = reinterpret_cast<void (*)(void **, int64_t, int64_t)>(dlsym(e->library, k.name.c_str()));
    if (!fn) {
      error = lib + ": no kernel '" + k.name + "'";
      return nullptr;
    }
    e->kernels.push_back(fn);
  }
  int64_t arenaBytes = m.compiled.arenaBytes();
  e->persistent = allocate(m.compiled.persistentBytes);
  e->arena = allocate(arenaBytes);
  if (!e->persistent || !e->arena) {
    error = "cannot allocate " + std::to_string(m.compiled.persistentBytes + arenaBytes) +
            " bytes for the model";
    return nullptr;
  }
  for (auto [file, kind] : {std::pair{"params.safetensors", "param"},
                            {"state.safetensors", "state"},
                            {"constants.safetensors", "constant"}}) {
    TensorMap tensors;
    if (!readSafetensors(dir + "/" + file, tensors, error) ||
        !e->setTensors(tensors, kind, dir + "/" + file, error))
      return nullptr;
  }
  for (const Program &p : m.compiled.programs) {
    std::vector<std::vector<void *>> perThunk;
    for (const Thunk &t : p.thunks) {
      std::vector<void *> ptrs;
      for (int64_t id : t.buffers)
        ptrs.push_back(e->data(id));
      perThunk.push_back(std::move(ptrs));
    }
    e->pointers.push_back(std::move(perThunk));
  }
  if (cudaDevice >= 0) {
    Executor *x = e.get();
    DeviceHooks hooks{[x](const Thunk &t) { x->fillRandom(t); },
                      [x](int64_t buffer) { return x->data(buffer); },
                      [x] { return x->comm; },
                      [x](const std::string &message) {
                        if (x->comm)
                          x->comm->fail(message);
                        std::fprintf(stderr, "kiln: %s\n", message.c_str());
                        std::exit(1);
                      }};
    if (!(e->gpu = openDevice(dir, m, cudaDevice, e->persistent, hooks, error))) {
      error = "GPU " + std::to_string(cudaDevice) + ": " + error;
      return nullptr;
    }
  }
  return e;
}

bool Executor::useCollectives(std::unique_ptr<Collectives> &ranks, std::string &error) {
  if (gpu && !(ranks = gpu->connect(std::move(ranks), error)))
    return false;
  comm = ranks.get();
  return true;
}

void Executor::toDevice(int64_t buffer) const {
  const Buffer &b = m.compiled.buffers[buffer];
  if (gpu)
    gpu->upload(b.region, b.offset, data(buffer), b.bytes);
}

void Executor::fromDevice(int64_t buffer) const {
  const Buffer &b = m.compiled.buffers[buffer];
  if (gpu)
    gpu->download(b.region, b.offset, data(buffer), b.bytes);
}

Executor::~Executor() {
  gpu.reset();
  free(persistent);
  free(arena);
  if (library)
    dlclose(library);
}

void *Executor::data(int64_t buffer) const {
  const Buffer &b = m.compiled.buffers[buffer];
  return (b.region == Region::Arena ? arena : persistent) + b.offset;
}

int Executor::program(const std::string &entry) const {
  for (size_t i = 0; i < m.compiled.programs.size(); ++i)
    if (m.compiled.programs[i].entry == entry)
      return i;
  return -1;
}

int64_t Executor::bufferNamed(const std::string &name, const std::string &kind) const {
  for (const Buffer &b : m.compiled.buffers)
    if (b.kind == kind && b.name == name)
      return b.id;
  return -1;
}

int64_t Executor::sinkBuffer(int program, const std::string &kind, const std::string &name) const {
  for (const Sink &s : m.compiled.programs[program].sinks)
    if (s.kind == kind && s.name == name)
      return s.buffer;
  return -1;
}

bool Executor::setTensors(const TensorMap &tensors, const std::string &kind,
                          const std::string &from, std::string &error) {
  for (auto &[name, t] : tensors) {
    // Constants are stored by buffer id.
    int64_t id = kind == "constant" ? std::atoll(name.c_str()) : bufferNamed(name, kind);
    if (id < 0 || id >= (int64_t)m.compiled.buffers.size() ||
        m.compiled.buffers[id].kind != kind) {
      error = from + ": '" + name + "' is not a " + kind + " of this model";
      return false;
    }
    const Buffer &b = m.compiled.buffers[id];
    if (kind != "constant" && (t.shape != b.shape || t.dtype != storedDtype(b.dtype))) {
      error = from + ": '" + name + "' has another shape or dtype than the model's";
      return false;
    }
    if ((int64_t)t.data.size() != b.bytes) {
      error = from + ": '" + name + "' has " + std::to_string(t.data.size()) +
              " bytes, the model's buffer " + std::to_string(b.bytes);
      return false;
    }
    std::memcpy(data(id), t.data.data(), b.bytes);
    toDevice(id);
  }
  return true;
}

TensorMap Executor::tensors(const std::string &kind) const {
  TensorMap out;
  for (const Buffer &b : m.compiled.buffers)
    if (b.kind == kind) {
      fromDevice(b.id);
      StoredTensor t{storedDtype(b.dtype), b.shape, {}};
      auto *p = static_cast<const uint8_t *>(data(b.id));
      t.data.assign(p, p + b.bytes);
      out[b.name] = std::move(t);
    }
  return out;
}

void Executor::runThunk(const Thunk &t, void **ptrs) {
  int n = pool.size();
  switch (t.kind) {
  case Thunk::Kernel: {
    auto fn = kernels[t.kernel];
    // Small kernels run inline: splitting costs more than it saves.
    int64_t chunks = t.trafficBytes < (128 << 10) ? 1 : std::min<int64_t>(t.rows, n);
    pool.run(chunks, [&](int64_t i) {
      fn(ptrs, t.rows * i / chunks, t.rows * (i + 1) / chunks);
    });
    return;
  }
  case Thunk::Gemm: {
    auto *a = static_cast<const float *>(data(t.a.buffer)) + t.a.offset;
    auto *b = static_cast<const float *>(data(t.b.buffer)) + t.b.offset;
    auto *c = static_cast<float *>(data(t.c.buffer)) + t.c.offset;
    int64_t batches = 1;
    for (int64_t d : t.batch)
      batches *= d;
    auto offset = [&](int64_t bi, const GemmOperand &o) {
      int64_t off = 0;
      for (int64_t d = t.batch.size() - 1; d >= 0; --d) {
        off += (bi % t.batch[d]) * o.batchStrides[d];
        bi /= t.batch[d];
      }
      return off;
    };
    if (batches >= n || t.m < 2 * n) {
      // Whole matrices per thread (attention: many small GEMMs).
      int64_t chunks = std::min<int64_t>(batches, n);
      pool.run(chunks, [&](int64_t i) {
        for (int64_t bi = batches * i / chunks; bi < batches * (i + 1) / chunks; ++bi)
          blas->sgemm(t.a.transpose, t.b.transpose, t.m, t.n, t.k, a + offset(bi, t.a), t.a.ld,
                      b + offset(bi, t.b), t.b.ld, c + offset(bi, t.c), t.c.ld);
      });
      return;
    }
    // Few large GEMMs: split each one's rows.
    for (int64_t bi = 0; bi < batches; ++bi)
      pool.run(n, [&](int64_t i) {
        int64_t r0 = t.m * i / n, r1 = t.m * (i + 1) / n;
        const float *ai = a + offset(bi, t.a) + (t.a.transpose ? r0 : r0 * t.a.ld);
        blas->sgemm(t.a.transpose, t.b.transpose, r1 - r0, t.n, t.k, ai, t.a.ld,
                    b + offset(bi, t.b), t.b.ld, c + offset(bi, t.c) + r0 * t.c.ld, t.c.ld);
      });
    return;
  }
  case Thunk::Copy:
    std::memcpy(data(t.buffers[1]), data(t.buffers[0]), t.bytes);
    return;
  case Thunk::Random:
    fillRandom(t);
    return;
  case Thunk::AllReduceStart: {
    // Pre-divided while packing, as DDP does: the sum is then the mean.
    auto *bucket = static_cast<float *>(ptrs[0]);
    float scale = 1.0f / worldSize();
    for (size_t i = 1; i < t.buffers.size(); ++i) {
      int64_t n = m.compiled.buffers[t.buffers[i]].bytes / 4;
      const float *x = static_cast<const float *>(ptrs[i]);
      for (int64_t j = 0; j < n; ++j)
        bucket[j] = x[j] * scale;
      bucket += n;
    }
    if (worldSize() > 1)
      comm->startAllReduce(t.bucket, static_cast<float *>(ptrs[0]),
                           m.compiled.buffers[t.buffers[0]].bytes / 4);
    return;
  }
  case Thunk::AllReduceWait: {
    if (worldSize() > 1)
      comm->waitAllReduce(t.bucket);
    auto *bucket = static_cast<const uint8_t *>(ptrs[0]);
    for (size_t i = 1; i < t.buffers.size(); ++i) {
      int64_t bytes = m.compiled.buffers[t.buffers[i]].bytes;
      std::memcpy(ptrs[i], bucket, bytes);
      bucket += bytes;
    }
    return;
  }
  }
}

void Executor::fillRandom(const Thunk &t) {
  const Buffer &b = m.compiled.buffers[t.buffers[0]];
  auto *out = static_cast<float *>(data(b.id));
  int64_t n = b.bytes / 4, batch = m.batchSize, world = worldSize();
  int64_t rows = b.shape.empty() ? 1 : b.shape[0];
  if (world > 1 && (rows % batch != 0 || batch == 0)) {
    // Not laid out by image: a stream of this rank's own.
    data::Random rng(randomKey.seed, uint64_t(rank() + 1) << 32 | t.stream, randomKey.step);
    for (int64_t i = 0; i < n; ++i)
      out[i] = static_cast<float>(rng.uniform());
    return;
  }
  // Row r is copy r / batch of this rank's image r % batch: the global row
  // of world size 1 is copy·(batch·world) + rank·batch + image.
  int64_t perRow = n / std::max<int64_t>(rows, 1);
  for (int64_t r = 0; r < rows; ++r) {
    int64_t global = world == 1 ? r : r / batch * batch * world + rank() * batch + r % batch;
    data::Random rng(randomKey.seed, t.stream, randomKey.step);
    rng.skip(global * perRow);
    for (int64_t i = 0; i < perRow; ++i)
      out[r * perRow + i] = static_cast<float>(rng.uniform());
  }
}

namespace {
bool trained(const Buffer &b) { return b.kind == "param" || b.kind == "state"; }
} // namespace

void Executor::copyTrainedState(bool save) {
  size_t at = 0;
  for (const Buffer &b : m.compiled.buffers)
    if (trained(b)) {
      if (save) {
        savedState.resize(std::max(savedState.size(), at + b.bytes));
        std::memcpy(savedState.data() + at, data(b.id), b.bytes);
      } else {
        std::memcpy(data(b.id), savedState.data() + at, b.bytes);
      }
      at += b.bytes;
    }
}

void Executor::saveTrainedState() {
  if (gpu)
    return gpu->savePersistent();
  copyTrainedState(true);
}

void Executor::restoreTrainedState() {
  if (gpu)
    return gpu->restorePersistent();
  copyTrainedState(false);
}

namespace {
bool allFinite(const Buffer &b, const void *p) {
  if (b.dtype != "f32")
    return true;
  auto *x = static_cast<const float *>(p);
  float sum = 0; // NaN and ±inf make the sum non-finite; one pass, vectorised
  for (int64_t i = 0; i < b.bytes / 4; ++i)
    sum += x[i] * 0.0f;
  return sum == 0.0f;
}
} // namespace

bool Executor::trainedStateFinite() const {
  for (const Buffer &b : m.compiled.buffers)
    if (trained(b)) {
      fromDevice(b.id);
      if (!allFinite(b, data(b.id)))
        return false;
    }
  return true;
}

void Executor::runThunks(int program, size_t first, size_t last) {
  const Program &p = m.compiled.programs[program];
  if (gpu) {
    gpu->enqueue(program, first, last);
    if (profile)
      gpu->synchronize();
    return;
  }
  for (size_t i = first; i < last; ++i) {
    runThunk(p.thunks[i], pointers[program][i].data());
    if (comm)
      comm->progress();
  }
}

namespace {
/// The buffers the runtime writes before a program runs: its inputs and
/// the schedule values.
std::vector<int64_t> hostWritten(const Manifest &m, const Program &p) {
  std::vector<int64_t> ids;
  for (const auto &in : m.inputs)
    if (in.program == p.entry)
      ids.push_back(in.buffer);
  for (const auto &s : m.schedules)
    ids.push_back(s.buffer);
  return ids;
}
} // namespace

int64_t Executor::runUntilNonFinite(int program) {
  const Program &p = m.compiled.programs[program];
  for (int64_t id : hostWritten(m, p))
    toDevice(id);
  for (size_t i = 0; i < p.thunks.size(); ++i) {
    runThunks(program, i, i + 1);
    for (int64_t out : p.thunks[i].outputs) {
      fromDevice(out);
      if (!allFinite(m.compiled.buffers[out], data(out)))
        return i;
    }
  }
  return -1;
}

void Executor::run(int program) {
  const Program &p = m.compiled.programs[program];
  for (int64_t id : hostWritten(m, p))
    toDevice(id);
  if (!profile) {
    runThunks(program, 0, p.thunks.size());
  } else {
    if (thunkSeconds.size() != p.thunks.size())
      thunkSeconds.assign(p.thunks.size(), 0.0);
    for (size_t i = 0; i < p.thunks.size(); ++i) {
      auto t0 = std::chrono::steady_clock::now();
      runThunks(program, i, i + 1);
      thunkSeconds[i] +=
          std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    }
  }
  if (gpu) {
    for (const Sink &s : p.sinks)
      fromDevice(s.buffer); // waits for the step
  }
}

namespace {
/// The largest |cpu - gpu| over a buffer and the largest |cpu| (for i1:
/// whether any byte differs, over 1).
std::pair<double, double> difference(const Buffer &b, const void *cpu, const void *gpu) {
  double diff = 0, scale = 0;
  if (b.dtype == "i1")
    return {std::memcmp(cpu, gpu, b.bytes) != 0 ? 1.0 : 0.0, 1.0};
  for (int64_t j = 0; j < b.bytes / 4; ++j) {
    double x = b.dtype == "f32" ? static_cast<const float *>(cpu)[j] : static_cast<const int32_t *>(cpu)[j];
    double y = b.dtype == "f32" ? static_cast<const float *>(gpu)[j] : static_cast<const int32_t *>(gpu)[j];
    diff = std::isnan(x) != std::isnan(y) ? INFINITY : std::max(diff, std::fabs(x - y));
    scale = std::max(scale, std::fabs(x));
  }
  return {diff, scale};
}
} // namespace

std::vector<Executor::ThunkDifference> Executor::compareWithDevice(int program) {
  const Program &p = m.compiled.programs[program];
  std::vector<ThunkDifference> out;
  if (!gpu)
    return out;
  gpu->upload(Region::Persistent, 0, persistent, m.compiled.persistentBytes);
  gpu->upload(Region::Arena, 0, arena, m.compiled.arenaBytes());
  std::vector<uint8_t> fromGpu;
  for (size_t i = 0; i < p.thunks.size(); ++i) {
    const Thunk &t = p.thunks[i];
    gpu->enqueue(program, i, i + 1);
    runThunk(t, pointers[program][i].data());
    double diff = 0, scale = 0;
    for (int64_t id : t.outputs) {
      const Buffer &b = m.compiled.buffers[id];
      fromGpu.resize(b.bytes);
      gpu->download(b.region, b.offset, fromGpu.data(), b.bytes);
      auto [d, magnitude] = difference(b, data(id), fromGpu.data());
      diff = std::max(diff, d);
      scale = std::max(scale, magnitude);
      toDevice(id);
    }
    out.push_back({i, diff == 0 ? 0 : diff / std::max(scale, 1e-30)});
  }
  return out;
}

} // namespace kiln
