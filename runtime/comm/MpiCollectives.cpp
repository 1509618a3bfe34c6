//===- MpiCollectives.cpp - collectives over MPI_COMM_WORLD ---------------===//
//
// Non-blocking MPI_Iallreduce per bucket, advanced by MPI_Test between
// thunks (Open MPI has no progress thread by default) and waited for with
// a deadline, so that a stalled rank ends the job instead of hanging it.
// A rank that dies is reported by mpirun itself, which ends the others.
//
//===----------------------------------------------------------------------===//
#include "runtime/comm/Transports.h"

#ifdef KILN_HAVE_MPI
#include "runtime/artifact/LowFloat.h"

#include <mpi.h>

#include <chrono>
#include <climits>
#include <cstring>
#include <cstdio>
#include <map>
#include <thread>

namespace kiln {
namespace {

class MpiCollectives final : public Collectives {
public:
  using Collectives::Collectives;
  ~MpiCollectives() override {
    if (bf16Op != MPI_OP_NULL)
      MPI_Op_free(&bf16Op);
    MPI_Finalize();
  }

  void startAllReduce(int64_t bucket, DType dtype, void *data, int64_t count) override {
    checkCount(bucket, count);
    MPI_Iallreduce(MPI_IN_PLACE, data, static_cast<int>(count), typeOf(dtype), sumOf(dtype),
                   MPI_COMM_WORLD, &inFlight[bucket]);
  }
  void startReduceScatter(int64_t id, DType dtype, void *data, int64_t count) override {
    // The whole bucket all-reduced in place: Open MPI 4.1's
    // MPI_Ireduce_scatter_block took 90 ms for a 16.8 MB bucket over two
    // ranks here (its progress reduces on the calling thread), its
    // MPI_Iallreduce 7 ms. Twice the traffic of a reduce-scatter, and each
    // block then has the all-reduce's bits at any world size.
    startAllReduce(id, dtype, data, count * world_.size);
  }
  void startAllGather(int64_t id, DType dtype, void *data, int64_t count) override {
    checkCount(id, count * world_.size);
    MPI_Iallgather(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, data, static_cast<int>(count),
                   typeOf(dtype), MPI_COMM_WORLD, &inFlight[id]);
  }
  void wait(int64_t id) override {
    waitFor(inFlight.at(id), "collective " + std::to_string(id));
    inFlight.erase(id);
  }
  void progress() override {
    for (auto &[bucket, request] : inFlight) {
      int done = 0;
      MPI_Test(&request, &done, MPI_STATUS_IGNORE);
    }
  }
  void allGatherBytes(void *data, int64_t bytes) override {
    if (bytes > INT_MAX)
      fail("gathering " + std::to_string(bytes) + " bytes per rank: over MPI's count limit");
    MPI_Request request;
    MPI_Iallgather(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, data, static_cast<int>(bytes), MPI_BYTE,
                   MPI_COMM_WORLD, &request);
    waitFor(request, "gathering from every rank");
  }
  void allReduceSum(double *data, int64_t count) override {
    MPI_Request request;
    MPI_Iallreduce(MPI_IN_PLACE, data, static_cast<int>(count), MPI_DOUBLE, MPI_SUM,
                   MPI_COMM_WORLD, &request);
    waitFor(request, "summing a value over the ranks");
  }
  [[noreturn]] void fail(const std::string &message) override {
    std::fprintf(stderr, "kiln: rank %d: %s\n", world_.rank, message.c_str());
    std::fflush(stderr);
    MPI_Abort(MPI_COMM_WORLD, 1);
    std::abort();
  }

private:
  /// MPI has no bf16 type: bf16 travels as MPI_UINT16_T under this sum,
  /// which widens, adds in f32 and rounds back (LowFloat.h).
  static void addBf16(void *in, void *inout, int *count, MPI_Datatype *) {
    auto *x = static_cast<const uint16_t *>(in);
    auto *y = static_cast<uint16_t *>(inout);
    for (int i = 0; i < *count; ++i)
      y[i] = floatToBf16(bf16ToFloat(x[i]) + bf16ToFloat(y[i]));
  }
  MPI_Op sumOf(DType dtype) {
    if (dtype != DType::BF16)
      return MPI_SUM;
    if (bf16Op == MPI_OP_NULL)
      MPI_Op_create(&addBf16, /*commute=*/1, &bf16Op);
    return bf16Op;
  }
  static MPI_Datatype typeOf(DType dtype) {
    return dtype == DType::BF16 ? MPI_UINT16_T : MPI_FLOAT;
  }
  /// MPI counts are ints.
  void checkCount(int64_t id, int64_t count) {
    if (count > INT_MAX)
      fail("collective " + std::to_string(id) + " has " + std::to_string(count) +
           " elements, more than MPI counts (" + std::to_string(INT_MAX) + ")");
  }

  /// Tests `request` until it completes, spinning briefly and then
  /// sleeping, or fails after the timeout.
  void waitFor(MPI_Request &request, const std::string &what) {
    auto start = std::chrono::steady_clock::now();
    for (int spins = 0;; ++spins) {
      int done = 0;
      MPI_Test(&request, &done, MPI_STATUS_IGNORE);
      if (done)
        return;
      if (spins > 1000)
        std::this_thread::sleep_for(std::chrono::microseconds(50));
      double waited =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      if (waited > timeoutSeconds)
        fail(what + " did not complete within " + std::to_string(int(timeoutSeconds)) +
             " s: another rank died, stalls or runs a different step (see its output); "
             "--comm-timeout sets the limit");
    }
  }

  std::map<int64_t, MPI_Request> inFlight;
  MPI_Op bf16Op = MPI_OP_NULL;
};

} // namespace

std::unique_ptr<Collectives> connectMpi(const World &world, double timeoutSeconds,
                                        std::string &error) {
  int provided = 0;
  if (MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS) {
    error = "MPI_Init_thread failed (launched by " + world.launcher + ")";
    return nullptr;
  }
  World w = world;
  MPI_Comm_rank(MPI_COMM_WORLD, &w.rank);
  MPI_Comm_size(MPI_COMM_WORLD, &w.size);
  return std::make_unique<MpiCollectives>(w, timeoutSeconds);
}

} // namespace kiln

#else

namespace kiln {

std::unique_ptr<Collectives> connectMpi(const World &world, double, std::string &error) {
  error = "launched by " + world.launcher + " with " + std::to_string(world.size) +
          " ranks, but this kiln was built without MPI (apt-get install libopenmpi-dev "
          "openmpi-bin, then rebuild)";
  return nullptr;
}

} // namespace kiln

#endif
