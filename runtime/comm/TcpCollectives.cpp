//===- TcpCollectives.cpp - collectives over sockets to rank 0 -------------===//
//
// For torchrun-style launches (RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT)
// without MPI: every other rank connects to rank 0 and proves it belongs
// to the job (runtime/comm/Rendezvous.h). An all-reduce is a star: each rank sends its bucket to rank 0,
// which sums them in rank order (the same bits whatever the arrival order)
// and sends the sum back. A communication thread does the socket work in
// the order the buckets start, so the compute thread only waits. Every
// socket wait has the deadline; a peer that closes its connection (it
// died) or stays silent ends this rank with a message, which closes its
// own sockets and so ends the rest. bf16 buckets are summed in f32 on rank
// 0 and rounded once.
//
// Cost: rank 0 moves 2(n-1) buckets per all-reduce, a ring 2(n-1)/n: this
// transport is for CPU jobs on a few machines; NCCL or MPI for more.
//
//===----------------------------------------------------------------------===//
#include "runtime/comm/Transports.h"

#include "runtime/comm/Rendezvous.h"
#include "runtime/comm/Sockets.h"

#include "runtime/artifact/LowFloat.h"

#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <deque>
#include <mutex>
#include <thread>

namespace kiln {
namespace {

/// One collective over `data`: `count` elements summed (Sum), or ranks
/// blocks of `count` elements, each rank's own block summed over the
/// ranks (ReduceScatter) or every block taken from its rank (AllGather).
struct Request {
  int64_t id = 0;
  void *data = nullptr;
  int64_t count = 0;
  enum Kind { Sum, ReduceScatter, AllGather } kind = Sum;
  enum Elem { F32, BF16, F64, Byte } elem = F32;
  bool done = false;
};

size_t bytesOf(Request::Elem e) {
  return e == Request::Byte ? 1 : e == Request::BF16 ? 2 : e == Request::F32 ? 4 : 8;
}
Request::Elem elemOf(DType d) { return d == DType::BF16 ? Request::BF16 : Request::F32; }

class TcpCollectives final : public Collectives {
public:
  TcpCollectives(World world, double timeoutSeconds, std::vector<int> peers)
      : Collectives(std::move(world), timeoutSeconds), peers(std::move(peers)),
        thread([this] { serve(); }) {}
  ~TcpCollectives() override {
    {
      std::lock_guard<std::mutex> lock(mutex);
      stopping = true;
    }
    wake.notify_all();
    thread.join();
    for (int fd : peers)
      if (fd >= 0)
        close(fd);
  }

  void startAllReduce(int64_t bucket, DType dtype, void *data, int64_t count) override {
    submit({bucket, data, count, Request::Sum, elemOf(dtype)});
  }
  void startReduceScatter(int64_t id, DType dtype, void *data, int64_t count) override {
    submit({id, data, count, Request::ReduceScatter, elemOf(dtype)});
  }
  void startAllGather(int64_t id, DType dtype, void *data, int64_t count) override {
    submit({id, data, count, Request::AllGather, elemOf(dtype)});
  }
  void wait(int64_t id) override { waitFor(id, "collective " + std::to_string(id)); }
  void allGatherBytes(void *data, int64_t bytes) override {
    int64_t id = submit({nextSetupId--, data, bytes, Request::AllGather, Request::Byte});
    waitFor(id, "gathering from every rank");
  }
  void allReduceSum(double *data, int64_t count) override {
    int64_t id = submit({nextSetupId--, data, count, Request::Sum, Request::F64});
    waitFor(id, "summing a value over the ranks");
  }
  [[noreturn]] void fail(const std::string &message) override {
    std::fprintf(stderr, "kiln: rank %d: %s\n", world_.rank, message.c_str());
    std::fflush(stderr);
    std::_Exit(1); // closes the sockets: the peers see it and end too
  }

private:
  int64_t submit(Request r) {
    std::lock_guard<std::mutex> lock(mutex);
    queue.push_back(r);
    wake.notify_all();
    return r.id;
  }

  void waitFor(int64_t id, const std::string &what) {
    std::unique_lock<std::mutex> lock(mutex);
    auto deadline = deadlineAfter(timeoutSeconds);
    for (;;) {
      if (!error.empty())
        fail(what + ": " + error);
      auto it = std::find_if(queue.begin(), queue.end(), [&](const Request &r) { return r.id == id; });
      if (it != queue.end() && it->done) {
        queue.erase(it);
        return;
      }
      if (wake.wait_until(lock, deadline) == std::cv_status::timeout)
        fail(what + " did not complete within " + std::to_string(int(timeoutSeconds)) +
             " s: another rank died, stalls or runs a different step (see its output); "
             "--comm-timeout sets the limit");
    }
  }

  /// The communication thread: runs the queued requests in order.
  void serve() {
    for (;;) {
      Request r;
      {
        std::unique_lock<std::mutex> lock(mutex);
        wake.wait(lock, [&] {
          return stopping || std::any_of(queue.begin(), queue.end(),
                                         [](const Request &q) { return !q.done; });
        });
        if (stopping || !error.empty())
          return;
        r = *std::find_if(queue.begin(), queue.end(), [](const Request &q) { return !q.done; });
      }
      std::string failure = run(r);
      std::lock_guard<std::mutex> lock(mutex);
      for (Request &q : queue)
        if (q.id == r.id)
          q.done = true;
      error = failure;
      wake.notify_all();
      if (!failure.empty())
        return;
    }
  }

  std::string run(const Request &r) {
    size_t block = r.count * bytesOf(r.elem);
    size_t whole = r.kind == Request::Sum ? block : block * world_.size;
    auto *all = static_cast<char *>(r.data);
    auto blockOf = [&](int rank) { return r.kind == Request::Sum ? all : all + rank * block; };
    bool gather = r.kind == Request::AllGather, scatter = r.kind == Request::ReduceScatter;
    std::string e;
    if (world_.rank != 0) {
      // Sent: the whole buffer, or this rank's block to a gather; back:
      // the whole result, or this rank's block of a reduce-scatter.
      if (!(e = transfer(0, gather ? blockOf(world_.rank) : all, gather ? block : whole, true))
               .empty())
        return e;
      return transfer(0, scatter ? blockOf(world_.rank) : all, scatter ? block : whole, false);
    }
    if (gather) {
      for (int peer = 1; peer < world_.size; ++peer)
        if (!(e = transfer(peer, blockOf(peer), block, false)).empty())
          return e;
    } else if (!(e = sumFromPeers(r, whole)).empty()) {
      return e;
    }
    for (int peer = 1; peer < world_.size; ++peer)
      if (!(e = transfer(peer, scatter ? blockOf(peer) : all, scatter ? block : whole, true))
               .empty())
        return e;
    return "";
  }

  /// Rank 0: adds every other rank's `bytes` of `r.data` to its own in
  /// rank order; bf16 in f32, rounded once at the end.
  std::string sumFromPeers(const Request &r, size_t bytes) {
    int64_t n = bytes / bytesOf(r.elem);
    std::vector<char> incoming(bytes);
    auto *bf16 = static_cast<uint16_t *>(r.data);
    std::vector<float> wide;
    if (r.elem == Request::BF16)
      for (int64_t j = 0; j < n; ++j)
        wide.push_back(bf16ToFloat(bf16[j]));
    for (int peer = 1; peer < world_.size; ++peer) {
      if (std::string e = transfer(peer, incoming.data(), bytes, false); !e.empty())
        return e;
      if (r.elem == Request::F32)
        add(static_cast<float *>(r.data), reinterpret_cast<float *>(incoming.data()), n);
      else if (r.elem == Request::F64)
        add(static_cast<double *>(r.data), reinterpret_cast<double *>(incoming.data()), n);
      else
        for (int64_t j = 0; j < n; ++j)
          wide[j] += bf16ToFloat(reinterpret_cast<const uint16_t *>(incoming.data())[j]);
    }
    for (int64_t j = 0; j < (int64_t)wide.size(); ++j)
      bf16[j] = floatToBf16(wide[j]);
    return "";
  }

  template <typename T> static void add(T *sum, const T *x, int64_t n) {
    for (int64_t i = 0; i < n; ++i)
      sum[i] += x[i];
  }

  /// Sends or receives exactly `bytes` to or from `peer` (rank 0's socket
  /// on the others) before the deadline.
  std::string transfer(int peer, void *data, size_t bytes, bool send) {
    Transfer t = transferAll(peers[peer], data, bytes, send, deadlineAfter(timeoutSeconds));
    std::string who = "rank " + std::to_string(world_.rank == 0 ? peer : 0);
    if (t.outcome == Transfer::TimedOut)
      return who + " sent nothing for " + std::to_string(int(timeoutSeconds)) +
             " s: it stalls or died";
    if (t.outcome == Transfer::Closed)
      return who + " closed its connection" +
             (t.error ? std::string(" (") + std::strerror(t.error) + ")" : "") +
             ": it died or failed (see its output)";
    return "";
  }

  std::vector<int> peers; // by rank: the socket to it (rank 0), or to rank 0 at [0]
  std::mutex mutex;
  std::condition_variable wake;
  std::deque<Request> queue;
  std::string error;
  bool stopping = false;
  int64_t nextSetupId = -1; // set-up requests count down, buckets are >= 0
  std::thread thread;
};

} // namespace

std::unique_ptr<Collectives> connectTcp(const World &world, double timeoutSeconds,
                                        std::string &error) {
  std::vector<int> peers(world.size, -1);
  if (!rendezvous(world, timeoutSeconds, peers, error))
    return nullptr;
  return std::make_unique<TcpCollectives>(world, timeoutSeconds, std::move(peers));
}

} // namespace kiln
