//===- CudaBackend.cpp - thunks on a CUDA GPU -----------------------------===//
//
// One cudaMalloc holds everything (persistent region, arena, the kernels'
// workspace, the per-thunk argument tables, the saved copy of the
// persistent region); kernels come from the artifact's PTX through the
// driver API; GEMMs are cuBLAS calls, convolutions cuDNN's; everything runs in order on one
// compute stream, and NCCL's all-reduces on a communication stream that
// the compute stream waits for only at each bucket's AllReduceWait. The
// next batch goes up through pinned memory on a copy stream while a step
// runs, into a staging area the next step copies it from.
//
//===----------------------------------------------------------------------===//
#include "runtime/artifact/ShardLayout.h"
#include "runtime/cuda/CudaDriver.h"
#ifdef KILN_HAVE_CUDNN
#include "runtime/cuda/CudnnConvolutions.h"
#endif
#include "runtime/cuda/NcclCollectives.h"
#include "runtime/exec/CublasPlan.h"
#include "runtime/exec/DeviceBackend.h"
#include "runtime/exec/DeviceWait.h"
#include "runtime/exec/GpuForRank.h"

#include <cublas_v2.h>
#include <cuda.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <type_traits>

namespace kiln {
namespace {

int64_t alignUp(int64_t n) { return (n + 255) / 256 * 256; }

/// "thunk 12 of train_step (kiln.fusion 'fusion_3_softmax_64x10', kernel
/// 'fusion_3_softmax_64x10': student.head.p)".
std::string thunkName(const Program &p, const std::vector<Kernel> &kernels, size_t i) {
  const Thunk &t = p.thunks[i];
  std::string s = "thunk " + std::to_string(i) + " of " + p.entry + " (" + thunkOp(kernels, t);
  if (const KernelLaunch *k = t.as<KernelLaunch>())
    s += " '" + t.name + "', kernel '" + kernels[k->kernel].name + "'";
  for (size_t j = 0; j < t.ops.size() && j < 4; ++j)
    s += (j ? ", " : ": ") + t.ops[j];
  return s + (t.ops.size() > 4 ? ", ...)" : ")");
}

/// cuBLAS's name for a float dtype.
cudaDataType_t cudaType(DType d) {
  return d == DType::BF16 ? CUDA_R_16BF : d == DType::F16 ? CUDA_R_16F : CUDA_R_32F;
}

class CudaBackend final : public DeviceBackend {
public:
  CudaBackend(const Manifest &m, DeviceHooks hooks) : m(m), hooks(std::move(hooks)) {}
  ~CudaBackend() override;

  bool open(const std::string &dir, int device, const uint8_t *hostPersistent, std::string &error);

  const std::string &description() const override { return desc; }
  void upload(Region region, int64_t offset, const void *host, int64_t bytes) override {
    check(cudaMemcpyAsync(base(region) + offset, host, bytes, cudaMemcpyHostToDevice, compute),
          "copying to the GPU");
  }
  void download(Region region, int64_t offset, void *host, int64_t bytes) override {
    // Wait (polled, with the comm timeout) before copying: a copy into
    // pageable memory can block on the stream, and so on a stuck all-reduce.
    synchronize();
    check(cudaMemcpyAsync(host, base(region) + offset, bytes, cudaMemcpyDeviceToHost, compute),
          "copying from the GPU");
    check(cudaStreamSynchronize(compute), "copying from the GPU");
  }
  bool stage(Region region, int64_t offset, const void *host, int64_t bytes) override;
  void placeStaged() override;
  void discardStaged() override {
    staged.clear();
    stagedBytes = 0;
  }
  void enqueue(int program, size_t first, size_t last) override;
  void synchronize() override;
  void savePersistent() override {
    check(cudaMemcpyAsync(saved, persistent, m.compiled.persistentBytes, cudaMemcpyDeviceToDevice,
                          compute),
          "saving the parameters on the GPU");
  }
  void restorePersistent() override {
    check(cudaMemcpyAsync(persistent, saved, m.compiled.persistentBytes, cudaMemcpyDeviceToDevice,
                          compute),
          "restoring the parameters on the GPU");
  }
  std::unique_ptr<Collectives> connect(std::unique_ptr<Collectives> host,
                                       std::string &error) override;

private:
  uint8_t *base(Region r) const { return r == Region::Arena ? arena : persistent; }
  uint8_t *device(int64_t buffer) const {
    const Buffer &b = m.compiled.buffers[buffer];
    return base(b.region) + b.offset;
  }
  template <typename Where> void gemm(const GemmCall &call, const Where &where);
  int rank() const {
    Collectives *comm = hooks.comm();
    return comm ? comm->world().rank : 0;
  }
  /// Scales a packed bucket by 1/world (the sum is then the mean, as on
  /// the CPU) and starts `start` on it (count: a segment's elements);
  /// nothing at world size 1.
  template <typename Where>
  void startCollective(const BucketTransfer &t,
                       void (Collectives::*start)(int64_t, DType, void *, int64_t),
                       int64_t segments, const Where &where) {
    Collectives *comm = hooks.comm();
    if (!comm || comm->world().size == 1)
      return;
    const Buffer &packed = m.compiled.buffers[t.bucketBuffer];
    int64_t n = packed.bytes / elementBytes(packed.dtype);
    if (start != &Collectives::startAllGather) {
      float scale = 1.0f / comm->world().size;
      check(cublasScalEx_64(blas, n, &scale, CUDA_R_32F, device(t.bucketBuffer),
                            cudaType(packed.dtype), 1, CUDA_R_32F),
            where);
    }
    (comm->*start)(t.bucket, packed.dtype, device(t.bucketBuffer), n / segments);
  }
  void waitCollective(const BucketTransfer &t) {
    Collectives *comm = hooks.comm();
    if (comm && comm->world().size > 1)
      comm->wait(t.bucket); // the compute stream waits, not the host
  }
  /// The copies into the bucket of `t` (`toBucket`) or out of it, each a
  /// 2-D copy on the compute stream.
  template <typename Where>
  void copySegments(const std::vector<SegmentCopy> &copies, const BucketTransfer &t,
                    bool toBucket, const Where &where) {
    for (const SegmentCopy &c : copies) {
      uint8_t *tensor = device(c.tensor) + c.tensorOffset;
      uint8_t *bucket = device(t.bucketBuffer) + c.bucketOffset;
      check(toBucket ? cudaMemcpy2DAsync(bucket, c.pitch, tensor, c.width, c.width, c.rows,
                                         cudaMemcpyDeviceToDevice, compute)
                     : cudaMemcpy2DAsync(tensor, c.width, bucket, c.pitch, c.width, c.rows,
                                         cudaMemcpyDeviceToDevice, compute),
            where);
    }
  }
  // `where` names the place for an error message: a string, or a callable
  // giving one, called only on an error, so launches build no names.
  template <typename Where> static std::string named(const Where &where) {
    if constexpr (std::is_invocable_v<Where>)
      return where();
    else
      return where;
  }
  template <typename Where> void check(cudaError_t e, const Where &where) {
    if (e != cudaSuccess)
      hooks.fail("CUDA error in " + named(where) + ": " + cudaGetErrorString(e));
  }
  template <typename Where> void check(cublasStatus_t s, const Where &where) {
    if (s != CUBLAS_STATUS_SUCCESS)
      hooks.fail("cuBLAS error in " + named(where) + ": " + cublasGetStatusString(s));
  }
  template <typename Where> void check(CUresult r, const Where &where) {
    if (r != CUDA_SUCCESS)
      hooks.fail("CUDA error in " + named(where) + ": " + driverErrorString(r));
  }

  const Manifest &m;
  DeviceHooks hooks;
  std::string desc;
  const CudaDriver *driver = nullptr;
  CUmodule module = nullptr;
  std::vector<CUfunction> functions;
  cudaStream_t compute = nullptr;
  cublasHandle_t blas = nullptr;
  uint8_t *memory = nullptr, *persistent = nullptr, *arena = nullptr, *workspace = nullptr,
          *saved = nullptr;
  void **tables = nullptr;
#ifdef KILN_HAVE_CUDNN
  std::unique_ptr<CudnnConvolutions> convolutions;
#endif
  // The next run's inputs: copied into `pinned`, uploaded on `copy` into
  // `staging` (stagingBytes each: the largest program's inputs), then
  // placed by a device copy on the compute stream.
  struct Staged {
    Region region;
    int64_t offset, at, bytes;
  };
  std::vector<Staged> staged;
  int64_t stagingBytes = 0, stagedBytes = 0;
  uint8_t *pinned = nullptr, *staging = nullptr;
  cudaStream_t copy = nullptr;
  cudaEvent_t uploaded = nullptr, placed = nullptr;
  // Per program, per thunk: its kernel's argument table (an index into tables).
  std::vector<std::vector<int64_t>> tableAt;
  bool syncEachThunk = false; // KILN_CUDA_SYNC=1: errors name their thunk
};

CudaBackend::~CudaBackend() {
  if (compute)
    cudaStreamSynchronize(compute);
  if (blas)
    cublasDestroy(blas);
  if (module)
    driver->moduleUnload(module);
  if (copy)
    cudaStreamSynchronize(copy);
  if (memory)
    cudaFree(memory);
  if (pinned)
    cudaFreeHost(pinned);
  for (cudaEvent_t e : {uploaded, placed})
    if (e)
      cudaEventDestroy(e);
  for (cudaStream_t s : {compute, copy})
    if (s)
      cudaStreamDestroy(s);
}

bool CudaBackend::open(const std::string &dir, int deviceIndex, const uint8_t *hostPersistent,
                       std::string &error) {
  if (!(driver = CudaDriver::get(error)))
    return false;
  int count = 0;
  if (cudaError_t e = cudaGetDeviceCount(&count); e != cudaSuccess || count == 0) {
    error = std::string("no usable GPU: ") +
            (e == cudaSuccess ? "the driver sees none" : cudaGetErrorString(e));
    return false;
  }
  if ((deviceIndex = gpuForRank(deviceIndex, count, error)) < 0)
    return false;
  int major = 0, minor = 0;
  cudaDeviceProp prop{};
  if (cudaSetDevice(deviceIndex) != cudaSuccess || cudaFree(nullptr) != cudaSuccess ||
      cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, deviceIndex) ||
      cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, deviceIndex) ||
      cudaGetDeviceProperties(&prop, deviceIndex)) {
    error = "cannot open GPU " + std::to_string(deviceIndex) + ": " +
            cudaGetErrorString(cudaGetLastError());
    return false;
  }
  // The newest PTX this GPU runs (the driver compiles it for the GPU).
  std::string arch;
  for (const std::string &a : m.cudaArchs)
    if (std::atoi(a.c_str() + 3) <= major * 10 + minor &&
        (arch.empty() || std::atoi(a.c_str() + 3) > std::atoi(arch.c_str() + 3)))
      arch = a;
  if (arch.empty()) {
    error = std::string(prop.name) + " is sm_" + std::to_string(major * 10 + minor) +
            "; the artifact's PTX needs at least " + m.cudaArchs.front();
    return false;
  }
  std::string path = dir + "/kernels." + arch + ".ptx";
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  std::string ptx = text.str();
  char log[8192] = "";
  CUjit_option options[] = {CU_JIT_ERROR_LOG_BUFFER, CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES};
  void *values[] = {log, reinterpret_cast<void *>(sizeof log)};
  if (CUresult r = driver->moduleLoadDataEx(&module, ptx.c_str(), 2, options, values)) {
    error = path + ": the driver cannot load the PTX: " + driverErrorString(r) + "\n" + log;
    module = nullptr;
    return false;
  }
  for (const Kernel &k : m.compiled.kernels) {
    CUfunction f;
    if (driver->moduleGetFunction(&f, module, k.name.c_str()) != CUDA_SUCCESS) {
      error = path + ": no kernel '" + k.name + "'";
      return false;
    }
    functions.push_back(f);
  }

  // Sizes: the arena of the largest program; the workspace of the largest
  // kernel launch; one argument table per kernel thunk.
  int64_t workspaceBytes = 0;
  std::vector<void *> table;
  std::vector<std::vector<int64_t>> at;
  for (const Program &p : m.compiled.programs) {
    at.emplace_back();
    for (const Thunk &t : p.thunks) {
      at.back().push_back(table.size());
      const KernelLaunch *k = t.as<KernelLaunch>();
      if (!k)
        continue;
      const GpuLaunch &launch = m.compiled.kernels[k->kernel].gpu;
      workspaceBytes = std::max(workspaceBytes, k->rows * launch.workspaceBytesPerRow);
      table.resize(table.size() + k->args.size());
    }
  }
  for (const Program &program : m.compiled.programs) {
    int64_t inputs = 0;
    for (const auto &in : m.inputs)
      if (in.program == program.entry)
        inputs += alignUp(m.compiled.buffers[in.buffer].bytes);
    stagingBytes = std::max(stagingBytes, inputs);
  }
  int64_t p = alignUp(m.compiled.persistentBytes), a = alignUp(m.compiled.arenaBytes()),
          w = alignUp(workspaceBytes), s = alignUp(m.compiled.persistentBytes),
          tb = alignUp(table.size() * sizeof(void *)), total = p + a + w + s + tb + stagingBytes;
  if (cudaMalloc(&memory, total) != cudaSuccess) {
    error = "cannot allocate " + std::to_string(total >> 20) + " MiB on " + prop.name + " (" +
            std::to_string(prop.totalGlobalMem >> 20) + " MiB)";
    memory = nullptr;
    return false;
  }
  persistent = memory;
  arena = persistent + p;
  workspace = arena + a;
  saved = workspace + w;
  tables = reinterpret_cast<void **>(saved + s);
  staging = saved + s + tb;
  tableAt = std::move(at);
  for (size_t pi = 0; pi < m.compiled.programs.size(); ++pi)
    for (size_t i = 0; i < m.compiled.programs[pi].thunks.size(); ++i) {
      const Thunk &t = m.compiled.programs[pi].thunks[i];
      if (const KernelLaunch *k = t.as<KernelLaunch>())
        for (size_t j = 0; j < k->args.size(); ++j)
          table[tableAt[pi][i] + j] = device(k->args[j].buffer);
    }
  if (cudaMemset(memory, 0, p + a + w + s) != cudaSuccess ||
      cudaMemcpy(persistent, hostPersistent, m.compiled.persistentBytes, cudaMemcpyHostToDevice) ||
      cudaMemcpy(tables, table.data(), table.size() * sizeof(void *), cudaMemcpyHostToDevice) ||
      cudaStreamCreateWithFlags(&compute, cudaStreamNonBlocking) ||
      cudaStreamCreateWithFlags(&copy, cudaStreamNonBlocking) ||
      cudaEventCreateWithFlags(&uploaded, cudaEventDisableTiming) ||
      cudaEventCreateWithFlags(&placed, cudaEventDisableTiming) ||
      cudaHostAlloc(reinterpret_cast<void **>(&pinned), std::max<int64_t>(stagingBytes, 1),
                    cudaHostAllocDefault)) {
    error = std::string("cannot set up the GPU: ") + cudaGetErrorString(cudaGetLastError());
    return false;
  }
  // The memset runs on the legacy stream, which does not order the
  // non-blocking `compute` stream's first kernels after it.
  if (cudaDeviceSynchronize() != cudaSuccess) {
    error = std::string("cannot set up the GPU: ") + cudaGetErrorString(cudaGetLastError());
    return false;
  }
  int blasVersion = 0;
  // Plain FP32 GEMMs (no TF32): results agree with the CPU's to float rounding.
  if (cublasCreate(&blas) != CUBLAS_STATUS_SUCCESS || cublasSetStream(blas, compute) ||
      cublasSetMathMode(blas, CUBLAS_DEFAULT_MATH) || cublasGetVersion(blas, &blasVersion)) {
    error = "cannot start cuBLAS";
    return false;
  }
  bool convolve = false;
  for (const Program &program : m.compiled.programs)
    for (const Thunk &t : program.thunks)
      convolve |= t.is<ConvCall>();
  std::string convolutionsDesc;
  if (convolve) {
#ifdef KILN_HAVE_CUDNN
    if (!(convolutions = CudnnConvolutions::open(m.compiled, compute, error)))
      return false;
    convolutionsDesc = ", " + convolutions->description();
#else
    error = "the model has convolutions and this kiln was built without cuDNN "
            "(cuDNN 9 in /usr/local/cuda at configure time)";
    return false;
#endif
  }
  syncEachThunk = std::getenv("KILN_CUDA_SYNC") && std::string(std::getenv("KILN_CUDA_SYNC")) == "1";
  desc = std::string(prop.name) + " (sm_" + std::to_string(major * 10 + minor) + ", PTX " + arch +
         "), cuBLAS " + std::to_string(blasVersion) + ", " +
         std::to_string(total >> 20) + " MiB" + convolutionsDesc;
  return true;
}

bool CudaBackend::stage(Region region, int64_t offset, const void *host, int64_t bytes) {
  if (stagedBytes + bytes > stagingBytes)
    return false;
  if (staged.empty()) {
    // The last batch has left the pinned memory and the staging area.
    check(cudaEventSynchronize(uploaded), "waiting for the last batch's upload");
    check(cudaStreamWaitEvent(copy, placed, 0), "ordering the upload after the last batch");
  }
  std::memcpy(pinned + stagedBytes, host, bytes);
  check(cudaMemcpyAsync(staging + stagedBytes, pinned + stagedBytes, bytes, cudaMemcpyHostToDevice,
                        copy),
        "uploading the next batch");
  check(cudaEventRecord(uploaded, copy), "uploading the next batch");
  staged.push_back({region, offset, stagedBytes, bytes});
  stagedBytes += alignUp(bytes);
  return true;
}

void CudaBackend::placeStaged() {
  check(cudaStreamWaitEvent(compute, uploaded, 0), "waiting for the batch's upload");
  for (const Staged &s : staged)
    check(cudaMemcpyAsync(base(s.region) + s.offset, staging + s.at, s.bytes,
                          cudaMemcpyDeviceToDevice, compute),
          "placing the batch");
  check(cudaEventRecord(placed, compute), "placing the batch");
  discardStaged();
}

void CudaBackend::enqueue(int program, size_t first, size_t last) {
  const Program &p = m.compiled.programs[program];
  for (size_t i = first; i < last; ++i) {
    const Thunk &t = p.thunks[i];
    auto here = [&] { return thunkName(p, m.compiled.kernels, i); };
    std::visit(
        Overloaded{
            [&](const KernelLaunch &k) {
              const GpuLaunch &launch = m.compiled.kernels[k.kernel].gpu;
              int64_t rows = k.rows;
              if (rows == 0)
                return;
              int64_t threads = launch.blockThreads(rows), blocks = launch.blocks(rows);
              void *table = tables + tableAt[program][i];
              void *scratch = workspace;
              void *args[] = {&table, &rows, &scratch};
              check(driver->launchKernel(functions[k.kernel], blocks, 1, 1, threads, 1, 1, 0,
                                         compute, args, nullptr),
                    here);
            },
            [&](const GemmCall &g) { gemm(g, here); },
            [&](const ConvCall &c) {
#ifdef KILN_HAVE_CUDNN
              std::string failed = convolutions->run(m.compiled, c, device(c.input),
                                                     device(c.weight), device(c.result));
              if (!failed.empty())
                hooks.fail(failed + " in " + here());
#endif
            },
            [&](const CopyBytes &c) {
              check(cudaMemcpyAsync(device(c.to) + c.toOffset, device(c.from) + c.fromOffset, c.bytes,
                                    cudaMemcpyDeviceToDevice, compute),
                    here);
            },
            [&](const RandomFill &r) {
              // Drawn on the host from the same streams as the CPU's.
              hooks.fillRandom(r);
              const Buffer &b = m.compiled.buffers[r.buffer];
              upload(b.region, b.offset, hooks.hostData(b.id), b.bytes);
            },
            [&](const ShardSlice &sh) {
              const Buffer &to = m.compiled.buffers[sh.to];
              OwnChunk c = ownChunk(m.compiled.buffers[sh.from].bytes, to.bytes,
                                    elementBytes(to.dtype), rank());
              check(cudaMemcpyAsync(device(sh.to), device(sh.from) + c.from, c.bytes,
                                    cudaMemcpyDeviceToDevice, compute),
                    here);
              check(cudaMemsetAsync(device(sh.to) + c.bytes, 0, c.padding, compute), here);
            },
            [&](const AllReduceStart &a) {
              uint8_t *bucket = device(a.bucketBuffer);
              for (int64_t id : a.tensors) {
                int64_t bytes = m.compiled.buffers[id].bytes;
                check(cudaMemcpyAsync(bucket, device(id), bytes, cudaMemcpyDeviceToDevice,
                                      compute),
                      here);
                bucket += bytes;
              }
              startCollective(a, &Collectives::startAllReduce, 1, here);
            },
            [&](const AllReduceWait &w) {
              waitCollective(w);
              const uint8_t *bucket = device(w.bucketBuffer);
              for (int64_t id : w.tensors) {
                int64_t bytes = m.compiled.buffers[id].bytes;
                check(cudaMemcpyAsync(device(id), bucket, bytes, cudaMemcpyDeviceToDevice,
                                      compute),
                      here);
                bucket += bytes;
              }
            },
            [&](const ReduceScatterStart &a) {
              const Buffer &packed = m.compiled.buffers[a.bucketBuffer];
              check(cudaMemsetAsync(device(a.bucketBuffer), 0, packed.bytes, compute), here);
              copySegments(wholeTensorCopies(m.compiled.buffers, a), a, true, here);
              startCollective(a, &Collectives::startReduceScatter, a.ranks, here);
            },
            [&](const ReduceScatterWait &w) {
              waitCollective(w);
              copySegments(ownChunkCopies(m.compiled.buffers, w, rank()), w, false, here);
            },
            [&](const AllGatherStart &a) {
              copySegments(ownChunkCopies(m.compiled.buffers, a, rank()), a, true, here);
              startCollective(a, &Collectives::startAllGather, a.ranks, here);
            },
            [&](const AllGatherWait &w) {
              waitCollective(w);
              copySegments(wholeTensorCopies(m.compiled.buffers, w), w, false, here);
            }},
        t.payload);
    if (syncEachThunk)
      check(cudaStreamSynchronize(compute), here);
  }
}

template <typename Where> void CudaBackend::gemm(const GemmCall &call, const Where &where) {
  // f32, or bf16/f16 operands and result (kiln-assign-precision); every
  // kind accumulates in f32 (CUBLAS_COMPUTE_32F, no TF32).
  DType in = m.compiled.buffers[call.a.buffer].dtype, out = m.compiled.buffers[call.c.buffer].dtype;
  int64_t inBytes = elementBytes(in), outBytes = elementBytes(out);
  auto *a = reinterpret_cast<const char *>(device(call.a.buffer));
  auto *b = reinterpret_cast<const char *>(device(call.b.buffer));
  auto *c = reinterpret_cast<char *>(device(call.c.buffer));
  const float one = 1.0f, zero = 0.0f;
  auto op = [](bool transpose) { return transpose ? CUBLAS_OP_T : CUBLAS_OP_N; };
  // planCublasGemm swaps the operands: its A is kiln's B.
  for (const CublasGemm &g : planCublasGemm(call))
    check(cublasGemmStridedBatchedEx(
              blas, op(g.transA), op(g.transB), g.m, g.n, g.k, &one, b + g.offsetA * inBytes,
              cudaType(in), g.lda, g.strideA, a + g.offsetB * inBytes, cudaType(in), g.ldb,
              g.strideB, &zero, c + g.offsetC * outBytes, cudaType(out), g.ldc, g.strideC,
              g.batches, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT),
          where);
}

void CudaBackend::synchronize() {
  Collectives *comm = hooks.comm();
  if (!comm || comm->world().size == 1) {
    check(cudaStreamSynchronize(compute),
          "the GPU step (KILN_CUDA_SYNC=1 names the thunk that failed)");
    return;
  }
  // Polled, so that a dead or stalled rank ends the job instead of hanging it.
  waitForDevice(
      *comm,
      [&] {
        cudaError_t e = cudaStreamQuery(compute);
        if (e != cudaSuccess && e != cudaErrorNotReady)
          check(e, "the GPU step (KILN_CUDA_SYNC=1 names the thunk that failed)");
        return e == cudaSuccess;
      },
      "the GPU step", "an NCCL all-reduce is stuck (a rank died or stalled)");
}

std::unique_ptr<Collectives> CudaBackend::connect(std::unique_ptr<Collectives> host,
                                                  std::string &error) {
  if (host->world().size == 1)
    return host;
#ifdef KILN_HAVE_NCCL
  return connectNccl(std::move(host), compute, error);
#else
  error = "this kiln was built without NCCL: GPU training on several ranks needs it "
          "(NCCL in /usr/local/cuda at configure time)";
  return nullptr;
#endif
}

} // namespace

} // namespace kiln

/// The plugin's entry (runtime/exec/CudaPlugin.cpp): openCudaBackend.
extern "C" kiln::DeviceBackend *kilnOpenCudaBackend(const std::string &dir, const kiln::Manifest &m,
                                                   int device, const uint8_t *persistent,
                                                   kiln::DeviceHooks hooks, std::string &error) {
  auto backend = std::make_unique<kiln::CudaBackend>(m, std::move(hooks));
  if (!backend->open(dir, device, persistent, error))
    return nullptr;
  return backend.release();
}
