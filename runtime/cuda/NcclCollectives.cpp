//===- NcclCollectives.cpp - collectives of device buffers over NCCL -----===//
#include "runtime/cuda/NcclCollectives.h"

#include <nccl.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <map>
#include <thread>

namespace kiln {
namespace {

class NcclCollectives final : public Collectives {
public:
  NcclCollectives(std::unique_ptr<Collectives> host, cudaStream_t compute)
      : Collectives(host->world(), host->timeout()), host(std::move(host)), compute(compute) {}
  ~NcclCollectives() override;

  bool init(std::string &error);

  void startAllReduce(int64_t bucket, DType dtype, void *data, int64_t count) override {
    enqueue(bucket, [&] {
      return ncclAllReduce(data, data, count, typeOf(dtype), ncclSum, comm, stream);
    });
  }
  // In place: NCCL's reduce-scatter writes block `rank` when it is the
  // receive buffer, and its all-gather reads it.
  void startReduceScatter(int64_t id, DType dtype, void *data, int64_t count) override {
    char *block = static_cast<char *>(data) + world_.rank * count * elementBytes(dtype);
    enqueue(id, [&] {
      return ncclReduceScatter(data, block, count, typeOf(dtype), ncclSum, comm, stream);
    });
  }
  void startAllGather(int64_t id, DType dtype, void *data, int64_t count) override {
    char *block = static_cast<char *>(data) + world_.rank * count * elementBytes(dtype);
    enqueue(id, [&] { return ncclAllGather(block, data, count, typeOf(dtype), comm, stream); });
  }
  void wait(int64_t id) override {
    check(cudaStreamWaitEvent(compute, event(done, id)), "waiting for a collective");
  }
  void progress() override {
    ncclResult_t state = ncclSuccess;
    ncclCommGetAsyncError(comm, &state);
    if (state != ncclSuccess && state != ncclInProgress)
      fail(std::string("NCCL: ") + ncclGetErrorString(state) + ": " + ncclGetLastError(comm));
  }
  void allGatherBytes(void *data, int64_t bytes) override { host->allGatherBytes(data, bytes); }
  void allReduceSum(double *data, int64_t count) override { host->allReduceSum(data, count); }
  [[noreturn]] void fail(const std::string &message) override {
    if (comm)
      ncclCommAbort(comm); // frees ranks blocked in a collective with this one
    comm = nullptr;
    host->fail(message);
    std::abort(); // unreachable: fail() ends the process
  }

private:
  static ncclDataType_t typeOf(DType dtype) {
    return dtype == DType::BF16 ? ncclBfloat16 : ncclFloat;
  }
  /// Runs `collective` on the communication stream after everything the
  /// compute stream has enqueued, and records its end for wait().
  template <typename Call> void enqueue(int64_t id, Call collective) {
    check(cudaEventRecord(event(ready, id), compute), "ordering a collective");
    check(cudaStreamWaitEvent(stream, ready[id]), "ordering a collective");
    settle(collective(), "collective " + std::to_string(id));
    check(cudaEventRecord(event(done, id), stream), "ordering a collective");
  }
  cudaEvent_t event(std::map<int64_t, cudaEvent_t> &events, int64_t bucket) {
    auto [it, fresh] = events.try_emplace(bucket, nullptr);
    if (fresh)
      check(cudaEventCreateWithFlags(&it->second, cudaEventDisableTiming), "creating an event");
    return it->second;
  }
  void check(cudaError_t e, const std::string &what) {
    if (e != cudaSuccess)
      fail("CUDA error " + what + ": " + cudaGetErrorString(e));
  }
  /// A non-blocking communicator's call may still be in progress: its
  /// state polled until it settles, ncclInProgress still after the timeout.
  ncclResult_t settled(ncclResult_t r) {
    auto start = std::chrono::steady_clock::now();
    while (r == ncclInProgress &&
           std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() <=
               timeoutSeconds) {
      std::this_thread::sleep_for(std::chrono::microseconds(50));
      ncclCommGetAsyncError(comm, &r);
    }
    return r;
  }
  void settle(ncclResult_t r, const std::string &what) {
    r = settled(r);
    if (r == ncclInProgress)
      fail("NCCL: " + what + " did not start within " + std::to_string((int)timeoutSeconds) +
           " s (a rank died or stalled)");
    if (r != ncclSuccess)
      fail("NCCL: " + what + ": " + ncclGetErrorString(r) + ": " + ncclGetLastError(comm));
  }

  std::unique_ptr<Collectives> host;
  cudaStream_t compute, stream = nullptr;
  ncclComm_t comm = nullptr;
  std::map<int64_t, cudaEvent_t> ready, done;
};

NcclCollectives::~NcclCollectives() {
  if (stream)
    cudaStreamSynchronize(stream);
  for (auto *events : {&ready, &done})
    for (auto &[bucket, e] : *events)
      cudaEventDestroy(e);
  if (comm) {
    // Destroy flushes pending work and can block on a broken communicator.
    ncclResult_t state = ncclSuccess;
    ncclCommGetAsyncError(comm, &state);
    state == ncclSuccess ? ncclCommDestroy(comm) : ncclCommAbort(comm);
  }
  if (stream)
    cudaStreamDestroy(stream);
}

bool NcclCollectives::init(std::string &error) {
  // Rank 0's id reaches every rank through the host transport, a word at a time.
  ncclUniqueId id;
  std::memset(&id, 0, sizeof id);
  if (world_.rank == 0 && ncclGetUniqueId(&id) != ncclSuccess) {
    error = "NCCL: cannot create the communicator id";
    return false;
  }
  for (size_t at = 0; at < sizeof id; at += sizeof(uint64_t)) {
    uint64_t word;
    std::memcpy(&word, id.internal + at, sizeof word);
    word = host->allGather(word)[0];
    std::memcpy(id.internal + at, &word, sizeof word);
  }
  if (cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking) != cudaSuccess) {
    error = "cannot create the communication stream";
    return false;
  }
  // Non-blocking, so that a rank that never joins ends in a timeout.
  ncclConfig_t config = NCCL_CONFIG_INITIALIZER;
  config.blocking = 0;
  ncclResult_t r = settled(ncclCommInitRankConfig(&comm, world_.size, id, world_.rank, &config));
  if (r == ncclInProgress)
    error = "NCCL: the ranks did not join within " + std::to_string((int)timeoutSeconds) + " s";
  else if (r != ncclSuccess)
    error = std::string("NCCL: cannot join the ranks: ") + ncclGetErrorString(r);
  else
    return true;
  // A communicator still joining or failed: destroying it may wait for the
  // missing ranks forever; aborting does not.
  if (comm)
    ncclCommAbort(comm);
  comm = nullptr;
  return false;
}

} // namespace

std::unique_ptr<Collectives> connectNccl(std::unique_ptr<Collectives> host, cudaStream_t compute,
                                         std::string &error) {
  auto nccl = std::make_unique<NcclCollectives>(std::move(host), compute);
  if (!nccl->init(error))
    return nullptr;
  return nccl;
}

} // namespace kiln
