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
#include <mpi.h>

#include <chrono>
#include <cstdio>
#include <map>
#include <thread>

namespace kiln {
namespace {

class MpiCollectives final : public Collectives {
public:
  using Collectives::Collectives;
  ~MpiCollectives() override { MPI_Finalize(); }

  void startAllReduce(int64_t bucket, float *data, int64_t count) override {
    MPI_Iallreduce(MPI_IN_PLACE, data, static_cast<int>(count), MPI_FLOAT, MPI_SUM,
                   MPI_COMM_WORLD, &inFlight[bucket]);
  }
  void waitAllReduce(int64_t bucket) override {
    waitFor(inFlight.at(bucket), "the all-reduce of bucket " + std::to_string(bucket));
    inFlight.erase(bucket);
  }
  void progress() override {
    for (auto &[bucket, request] : inFlight) {
      int done = 0;
      MPI_Test(&request, &done, MPI_STATUS_IGNORE);
    }
  }
  std::vector<uint64_t> allGather(uint64_t value) override {
    std::vector<uint64_t> all(world_.size);
    MPI_Request request;
    MPI_Iallgather(&value, 1, MPI_UINT64_T, all.data(), 1, MPI_UINT64_T, MPI_COMM_WORLD,
                   &request);
    waitFor(request, "gathering a value from every rank");
    return all;
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
