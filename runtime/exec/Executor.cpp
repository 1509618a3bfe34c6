//===- Executor.cpp - load an artifact and replay its thunks --------------===//
#include "runtime/exec/Executor.h"

#include "runtime/artifact/ArtifactChecks.h"
#include "runtime/artifact/LowFloat.h"
#include "runtime/data/Random.h"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <set>
#include <dlfcn.h>

namespace kiln {
namespace {

uint8_t *allocate(int64_t bytes) {
  void *p = nullptr;
  if (posix_memalign(&p, 64, std::max<int64_t>(bytes, 64)) != 0)
    return nullptr;
  std::memset(p, 0, std::max<int64_t>(bytes, 64));
  return static_cast<uint8_t *>(p);
}

} // namespace

std::unique_ptr<Executor> Executor::load(const std::string &dir, int threads,
                                         std::string &error, int cudaDevice,
                                         const DeviceOpener &openDevice) {
  std::unique_ptr<Executor> e(new Executor(std::max(1, threads)));
  Manifest &m = e->m;
  if (!readManifest(dir + "/manifest.json", m, error) || !checkArtifact(dir, m, error))
    return nullptr;
  if (!(e->blas = Blas::get(error)))
    return nullptr;
  std::string lib = dir + "/kernels.so";
  e->library = dlopen(lib.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!e->library) {
    error = lib + ": cannot load: " + dlerror();
    return nullptr;
  }
  for (const Kernel &k : m.compiled.kernels) {
    auto fn = reinterpret_cast<void (*)(void **, int64_t, int64_t, uint8_t *)>(
        dlsym(e->library, k.name.c_str()));
    if (!fn) {
      error = lib + ": no kernel '" + k.name + "'";
      return nullptr;
    }
    e->kernels.push_back(fn);
    e->workspaceSlab = std::max(e->workspaceSlab, (k.workspaceBytes + 63) / 64 * 64);
  }
  int64_t arenaBytes = m.compiled.arenaBytes();
  int64_t workspaceBytes = e->workspaceSlab * e->pool.size();
  e->persistent = allocate(m.compiled.persistentBytes);
  e->arena = allocate(arenaBytes);
  e->workspace = allocate(workspaceBytes);
  if (!e->persistent || !e->arena || !e->workspace) {
    error = "cannot allocate " +
            std::to_string(m.compiled.persistentBytes + arenaBytes + workspaceBytes) +
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
      std::vector<void *> args;
      if (const KernelLaunch *k = t.as<KernelLaunch>())
        for (auto [id, access] : k->args)
          args.push_back(e->data(id));
      perThunk.push_back(std::move(args));
    }
    e->pointers.push_back(std::move(perThunk));
  }
  if (cudaDevice >= 0) {
    Executor *x = e.get();
    DeviceHooks hooks{[x](const RandomFill &r) { x->fillRandom(r); },
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

bool Executor::checkShardRanks(int world, std::string &error) const {
  int64_t shards = shardRanks(m.compiled);
  if (shards == 0 || shards == world)
    return true;
  error = "the artifact shards the optimizer over " + std::to_string(shards) +
          " ranks (kiln compile --shard-optimizer --ranks " + std::to_string(shards) + "), not " +
          std::to_string(world);
  return false;
}

bool Executor::useCollectives(std::unique_ptr<Collectives> &ranks, std::string &error) {
  if (!checkShardRanks(ranks->world().size, error))
    return false;
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

void Executor::uploadHostWritten(int program) const {
  const Program &p = m.compiled.programs[program];
  for (const auto &in : m.inputs)
    if (in.program == p.entry && !(program == stagedProgram && stagedBuffers.count(in.buffer)))
      toDevice(in.buffer);
  for (const auto &s : m.schedules)
    toDevice(s.buffer);
}

Executor::~Executor() {
  gpu.reset();
  free(persistent);
  free(arena);
  free(workspace);
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
    if (b.shards && t.shape == b.wholeShape && t.dtype == safetensorsDtype(b.dtype)) {
      // Sharded state, saved whole: this rank's chunk, zero-padded.
      copyOwnChunk(t.data.data(), int64_t(t.data.size()), id);
      toDevice(id);
      continue;
    }
    if (kind != "constant" && (t.shape != b.shape || t.dtype != safetensorsDtype(b.dtype))) {
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

namespace {

/// Whether state `name` lies under one of `networks` (the first path
/// segments of the parameters' names): module state.
bool isModuleState(const std::string &name, const std::set<std::string> &networks) {
  size_t dot = name.find('.');
  return dot != std::string::npos && networks.count(name.substr(0, dot));
}

} // namespace

TensorMap networkTensors(const TensorMap &params, const TensorMap &state) {
  std::set<std::string> networks;
  for (auto &[name, t] : params)
    networks.insert(name.substr(0, name.find('.')));
  TensorMap out = params;
  for (auto &[name, t] : state)
    if (isModuleState(name, networks))
      out[name] = t;
  return out;
}

bool Executor::setNetworkTensors(const TensorMap &tensors, const std::string &from,
                                 std::string &error) {
  std::set<std::string> networks;
  for (const Buffer &b : m.compiled.buffers)
    if (b.kind == "param")
      networks.insert(b.name.substr(0, b.name.find('.')));
  TensorMap params, state;
  for (auto &[name, t] : tensors) {
    if (bufferNamed(name, "param") >= 0) {
      params[name] = t;
    } else if (bufferNamed(name, "state") >= 0 && isModuleState(name, networks)) {
      state[name] = t;
    } else {
      error = from + ": '" + name + "' is not a parameter or module state of this model";
      return false;
    }
  }
  return setTensors(params, "param", from, error) && setTensors(state, "state", from, error);
}

TensorMap Executor::tensors(const std::string &kind, bool sharded) const {
  TensorMap out;
  for (const Buffer &b : m.compiled.buffers)
    if (b.kind == kind && (sharded || !b.shards)) {
      fromDevice(b.id);
      StoredTensor t{safetensorsDtype(b.dtype), b.shape, {}};
      auto *p = static_cast<const uint8_t *>(data(b.id));
      t.data.assign(p, p + b.bytes);
      if (b.shards)
        t = wholeOf(b, t);
      out[b.name] = std::move(t);
    }
  return out;
}

/// Every rank's chunk of sharded buffer `b` (this rank's is `mine`), the
/// padding dropped: one all-gather of the chunks' bytes, so the whole
/// tensor's bytes is all it takes.
StoredTensor Executor::wholeOf(const Buffer &b, const StoredTensor &mine) const {
  int64_t elements = 1;
  for (int64_t d : b.wholeShape)
    elements *= d;
  StoredTensor whole{mine.dtype, b.wholeShape, std::vector<uint8_t>(b.bytes * worldSize())};
  std::memcpy(whole.data.data() + rank() * b.bytes, mine.data.data(), b.bytes);
  if (worldSize() > 1)
    comm->allGatherBytes(whole.data.data(), b.bytes);
  whole.data.resize(elements * elementBytes(b.dtype));
  return whole;
}

/// Below this many bytes of traffic a kernel or a copy runs on the calling
/// thread: splitting costs more than it saves.
constexpr int64_t kInlineBytes = 128 << 10;

/// n elements of `from` times `scale` into `to`: f32, or bf16 scaled in f32
/// and rounded (exact for a power-of-two world size).
static void copyScaled(DType dtype, const void *from, void *to, int64_t n, float scale) {
  if (dtype == DType::BF16) {
    auto *x = static_cast<const uint16_t *>(from);
    auto *y = static_cast<uint16_t *>(to);
    for (int64_t j = 0; j < n; ++j)
      y[j] = floatToBf16(bf16ToFloat(x[j]) * scale);
  } else {
    auto *x = static_cast<const float *>(from);
    auto *y = static_cast<float *>(to);
    for (int64_t j = 0; j < n; ++j)
      y[j] = x[j] * scale;
  }
}

void Executor::runThunk(const Thunk &t, void **kernelArgs) {
  std::visit(
      Overloaded{
          [&](const KernelLaunch &k) {
            auto fn = kernels[k.kernel];
            int64_t chunks =
                t.trafficBytes < kInlineBytes ? 1 : std::min<int64_t>(k.rows, pool.size());
            // Chunk i runs on one thread at a time, so slab i is its own.
            pool.run(chunks, [&](int64_t i) {
              fn(kernelArgs, k.rows * i / chunks, k.rows * (i + 1) / chunks,
                 workspace + i * workspaceSlab);
            });
          },
          [&](const GemmCall &g) {
            gemms.run(g, m.compiled.buffers[g.a.buffer].dtype, m.compiled.buffers[g.c.buffer].dtype,
                      data(g.a.buffer), data(g.b.buffer), data(g.c.buffer), *blas, pool);
          },
          [&](const ConvCall &c) {
            const std::vector<Buffer> &b = m.compiled.buffers;
            convolutions.run(c, {b[c.input].dtype, b[c.weight].dtype, b[c.result].dtype},
                             data(c.input), data(c.weight), data(c.result), *blas, pool);
          },
          [&](const CopyBytes &c) {
            auto *to = static_cast<uint8_t *>(data(c.to)) + c.toOffset;
            auto *from = static_cast<const uint8_t *>(data(c.from)) + c.fromOffset;
            // One core does not saturate memory bandwidth.
            int64_t chunks = c.bytes < kInlineBytes ? 1 : pool.size();
            pool.run(chunks, [&](int64_t i) {
              int64_t begin = c.bytes * i / chunks, end = c.bytes * (i + 1) / chunks;
              std::memcpy(to + begin, from + begin, end - begin);
            });
          },
          [&](const RandomFill &r) { fillRandom(r); },
          [&](const ShardSlice &sh) {
            copyOwnChunk(static_cast<const uint8_t *>(data(sh.from)),
                         m.compiled.buffers[sh.from].bytes, sh.to);
          },
          [&](const AllReduceStart &a) {
            // Pre-divided while packing, as DDP does: the sum is then the
            // mean.
            auto *bucket = static_cast<uint8_t *>(data(a.bucketBuffer));
            DType dtype = m.compiled.buffers[a.bucketBuffer].dtype;
            for (int64_t id : a.tensors) {
              int64_t bytes = m.compiled.buffers[id].bytes;
              copyScaled(dtype, data(id), bucket, bytes / elementBytes(dtype), 1.0f / worldSize());
              bucket += bytes;
            }
            startCollective(a, &Collectives::startAllReduce, 1);
          },
          [&](const AllReduceWait &w) {
            if (worldSize() > 1)
              comm->wait(w.bucket);
            auto *bucket = static_cast<const uint8_t *>(data(w.bucketBuffer));
            for (int64_t id : w.tensors) {
              int64_t bytes = m.compiled.buffers[id].bytes;
              std::memcpy(data(id), bucket, bytes);
              bucket += bytes;
            }
          },
          [&](const ReduceScatterStart &a) {
            // Every rank's chunk of every tensor into its segment, divided
            // by the world size; the padding zero.
            const Buffer &packed = m.compiled.buffers[a.bucketBuffer];
            for (auto [offset, bytes] : paddingOf(m.compiled.buffers, a))
              std::memset(static_cast<uint8_t *>(data(a.bucketBuffer)) + offset, 0, bytes);
            int64_t e = elementBytes(packed.dtype);
            copySegments(wholeTensorCopies(m.compiled.buffers, a), a, true,
                         [&](uint8_t *to, const uint8_t *from, int64_t bytes) {
                           copyScaled(packed.dtype, from, to, bytes / e, 1.0f / worldSize());
                         });
            startCollective(a, &Collectives::startReduceScatter, a.ranks);
          },
          [&](const ReduceScatterWait &w) {
            if (worldSize() > 1)
              comm->wait(w.bucket);
            copySegments(ownChunkCopies(m.compiled.buffers, w, rank()), w, false, std::memcpy);
          },
          [&](const AllGatherStart &a) {
            copySegments(ownChunkCopies(m.compiled.buffers, a, rank()), a, true, std::memcpy);
            startCollective(a, &Collectives::startAllGather, a.ranks);
          },
          [&](const AllGatherWait &w) {
            if (worldSize() > 1)
              comm->wait(w.bucket);
            copySegments(wholeTensorCopies(m.compiled.buffers, w), w, false, std::memcpy);
          }},
      t.payload);
}

void Executor::copyOwnChunk(const uint8_t *whole, int64_t wholeBytes, int64_t to) {
  const Buffer &b = m.compiled.buffers[to];
  OwnChunk c = ownChunk(wholeBytes, b.bytes, elementBytes(b.dtype), rank());
  auto *out = static_cast<uint8_t *>(data(to));
  std::memcpy(out, whole + c.from, c.bytes);
  std::memset(out + c.bytes, 0, c.padding);
}

template <typename Copy>
void Executor::copySegments(const std::vector<SegmentCopy> &copies, const BucketTransfer &t,
                            bool toBucket, Copy &&copy) {
  auto *bucket = static_cast<uint8_t *>(data(t.bucketBuffer));
  for (const SegmentCopy &c : copies) {
    auto *tensor = static_cast<uint8_t *>(data(c.tensor)) + c.tensorOffset;
    for (int64_t r = 0; r < c.rows; ++r) {
      uint8_t *row = bucket + c.bucketOffset + r * c.pitch, *part = tensor + r * c.width;
      toBucket ? copy(row, part, c.width) : copy(part, row, c.width);
    }
  }
}

void Executor::startCollective(const BucketTransfer &t,
                               void (Collectives::*start)(int64_t, DType, void *, int64_t),
                               int64_t segments) {
  if (worldSize() == 1)
    return;
  const Buffer &packed = m.compiled.buffers[t.bucketBuffer];
  (comm->*start)(t.bucket, packed.dtype, data(t.bucketBuffer),
                 packed.bytes / elementBytes(packed.dtype) / segments);
}

void Executor::fillRandom(const RandomFill &fill) {
  const Buffer &b = m.compiled.buffers[fill.buffer];
  auto *out = static_cast<float *>(data(b.id));
  int64_t n = b.bytes / 4, batch = m.batchSize, world = worldSize();
  int64_t rows = b.shape.empty() ? 1 : b.shape[0];
  if (world > 1 && (rows % batch != 0 || batch == 0)) {
    // Not laid out by image: a stream of this rank's own.
    data::Random rng(randomKey.seed, uint64_t(rank() + 1) << 32 | fill.stream, randomKey.step);
    for (int64_t i = 0; i < n; ++i)
      out[i] = static_cast<float>(rng.uniform());
    return;
  }
  // Row r is copy r / batch of this rank's image r % batch: the global row
  // of world size 1 is copy·(batch·world) + rank·batch + image.
  int64_t perRow = n / std::max<int64_t>(rows, 1);
  for (int64_t r = 0; r < rows; ++r) {
    int64_t global = world == 1 ? r : r / batch * batch * world + rank() * batch + r % batch;
    data::Random rng(randomKey.seed, fill.stream, randomKey.step);
    rng.skip(global * perRow);
    for (int64_t i = 0; i < perRow; ++i)
      out[r * perRow + i] = static_cast<float>(rng.uniform());
  }
}

void Executor::runThunks(int program, size_t first, size_t last) {
  const Program &p = m.compiled.programs[program];
  if (gpu) {
    gpu->enqueue(program, first, last);
    if (profile || trace)
      gpu->synchronize();
    return;
  }
  for (size_t i = first; i < last; ++i) {
    runThunk(p.thunks[i], pointers[program][i].data());
    if (comm)
      comm->progress();
  }
}

bool Executor::stageInputs(int program,
                           const std::vector<std::pair<int64_t, const void *>> &inputs) {
  if (!gpu)
    return false;
  discardStaged();
  for (auto [buffer, host] : inputs) {
    const Buffer &b = m.compiled.buffers[buffer];
    if (!gpu->stage(b.region, b.offset, host, b.bytes)) {
      discardStaged();
      return false;
    }
    stagedBuffers.insert(buffer);
  }
  stagedProgram = program;
  return true;
}

void Executor::discardStaged() {
  if (gpu)
    gpu->discardStaged();
  stagedProgram = -1;
  stagedBuffers.clear();
}

void Executor::run(int program) {
  start(program);
  finish(program);
}

void Executor::start(int program) {
  const Program &p = m.compiled.programs[program];
  uploadHostWritten(program);
  if (program == stagedProgram) {
    gpu->placeStaged();
    stagedProgram = -1;
    stagedBuffers.clear();
  }
  if (!profile && !trace) {
    runThunks(program, 0, p.thunks.size());
    return;
  }
  using Clock = std::chrono::steady_clock;
  auto origin = Clock::now();
  auto since = [&](Clock::time_point t) { return std::chrono::duration<double>(t - origin).count(); };
  if (thunkSeconds.size() != p.thunks.size())
    thunkSeconds.assign(p.thunks.size(), 0.0);
  std::vector<ThreadPool::Span> spans;
  pool.spans = trace ? &spans : nullptr;
  for (size_t i = 0; i < p.thunks.size(); ++i) {
    auto t0 = Clock::now();
    runThunks(program, i, i + 1);
    auto t1 = Clock::now();
    if (profile)
      thunkSeconds[i] += std::chrono::duration<double>(t1 - t0).count();
    if (!trace)
      continue;
    trace->push_back({i, 0, since(t0), since(t1)});
    for (const ThreadPool::Span &s : spans)
      if (s.thread != 0)
        trace->push_back({i, s.thread, since(s.begin), since(s.end)});
    spans.clear();
  }
  pool.spans = nullptr;
}

void Executor::finish(int program) {
  if (gpu)
    for (const Sink &s : m.compiled.programs[program].sinks)
      fromDevice(s.buffer); // waits for the step
}

} // namespace kiln
