//===- Collectives.cpp - the transport for a world ------------------------===//
#include "runtime/comm/Collectives.h"

#include "runtime/comm/Transports.h"

#include <cstdio>
#include <cstdlib>

namespace kiln {
namespace {

/// One rank: nothing to communicate.
class LocalCollectives final : public Collectives {
public:
  using Collectives::Collectives;
  void startAllReduce(int64_t, DType, void *, int64_t) override {}
  void startReduceScatter(int64_t, DType, void *, int64_t) override {}
  void startAllGather(int64_t, DType, void *, int64_t) override {}
  void wait(int64_t) override {}
  void allGatherBytes(void *, int64_t) override {}
  void allReduceSum(double *, int64_t) override {}
  [[noreturn]] void fail(const std::string &message) override {
    std::fprintf(stderr, "kiln: %s\n", message.c_str());
    std::exit(1);
  }
};

} // namespace

std::unique_ptr<Collectives> connectRanks(const World &world, double timeoutSeconds,
                                          std::string &error) {
  if (world.launcher == "torchrun" && world.size > 1)
    return connectTcp(world, timeoutSeconds, error);
  if (world.launcher == "mpirun" || world.launcher == "srun")
    return connectMpi(world, timeoutSeconds, error);
  return std::make_unique<LocalCollectives>(world, timeoutSeconds);
}

} // namespace kiln
