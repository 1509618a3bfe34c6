//===- Train.cpp - kiln train ----------------------------------------------===//
//
// kiln train MODEL.json | OUT.kiln [options]: compiles the graph into
// RUNDIR/model.kiln when given JSON, loads the artifact and trains it on
// Fashion-MNIST (or --data DIR, or --data synthetic:N for tests).
//
// Under mpirun, srun or torchrun-style variables it is one rank of a
// data-parallel job: the graph's (or --batch-size's) global batch is split
// over the ranks, rank 0 compiles, every rank checks that all run the same
// artifact, and an error on one rank ends them all.
//
//===----------------------------------------------------------------------===//
#include "Args.h"
#include "CompilerProcess.h"
#include "Dataset.h"
#include "Subcommands.h"

#include "runtime/artifact/Crc32.h"
#include "runtime/comm/Collectives.h"
#include "runtime/exec/NetworkFiles.h"
#include "runtime/train/Snapshot.h"
#include "runtime/train/Trainer.h"

#include <csignal>
#include <cstdio>
#include <algorithm>
#include <filesystem>
#include <set>
#include <optional>
#include <thread>
#include <unistd.h>

namespace kiln {
namespace {

const char *kUsage =
    "usage: kiln train MODEL.json | OUT.kiln [options]\n"
    "\n"
    "  --epochs N        train N epochs (default: the graph's train.epochs)\n"
    "  --steps N         stop after N steps\n"
    "  --batch-size N    global batch size, split over the ranks (compiling\n"
    "                    MODEL.json only: shapes are static)\n"
    "  --seed N          data order and augmentation seed (default: train.seed)\n"
    "  --threads N       threads per rank (default: all cores / ranks on this machine)\n"
    "  --out RUNDIR      run directory (default: run): metrics.jsonl, summary.json,\n"
    "                    plot.svg, params.safetensors, model.kiln\n"
    "%s"
    "  --cpu CPU         compile the kernels for CPU ('host', or an LLVM CPU name)\n"
    "  --device D        cpu (default) or cuda: one GPU per rank (LOCAL_RANK), NCCL\n"
    "                    between ranks; MODEL.json is then compiled --target=cuda\n"
    "  --bucket-size B   bytes per gradient all-reduce bucket (default 25 MiB)\n"
    "  --precision P     f32, bf16 or fp16 (default: the graph's train.precision)\n"
    "  --recompute R     none or auto: cheap activations recomputed in backward\n"
    "                    instead of kept (default: the graph's train.recompute, else auto)\n"
    "  --all-reduce-precision P  f32 or bf16: the gradients' all-reduce (default:\n"
    "                    the graph's train.all_reduce_precision, else f32)\n"
    "  --shard-optimizer gradients and optimizer state sharded over the ranks\n"
    "                    (ZeRO 1/2): each rank updates 1/N of every parameter\n"
    "  --comm-timeout S  seconds a rank waits for the others before the job\n"
    "                    ends with an error (default 300)\n"
    "  --snapshot-every N  a snapshot every N steps (and at every epoch end) in\n"
    "                    RUNDIR/snapshots\n"
    "  --keep-snapshots K  keep the newest K snapshots (default 3)\n"
    "  --resume          go on from the newest good snapshot in RUNDIR (exactly:\n"
    "                    the same parameters as an uninterrupted run); fresh if none\n"
    "  --init-from FILE  start from these weights (safetensors: the model's names,\n"
    "                    or one network's as kiln export writes them)\n"
    "  --init-network NAME  the network FILE's unprefixed names belong to\n"
    "  --eval-every N    evaluate every N epochs and at the end (default: the\n"
    "                    graph's train.eval.every_epochs, else every epoch)\n"
    "  --no-eval         train without evaluating\n"
    "  --quiet           no progress lines\n"
    "\n"
    "Data parallel: mpirun -n N kiln train ..., srun kiln train ..., or set\n"
    "RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR and MASTER_PORT per process.\n";

int usageError(const std::string &message) {
  std::fprintf(stderr, "kiln train: %s\n\n", message.c_str());
  std::fprintf(stderr, kUsage, kDataUsage);
  return 2;
}

/// What kiln-compile is asked for: MODEL.json into `artifact`, for the
/// global batch (when given) split over `ranks`.
struct CompileRequest {
  std::string model, artifact;
  std::optional<int64_t> batchSize, bucketSize;
  std::optional<std::string> precision, recompute, allReducePrecision;
  int ranks = 1;
  std::string cpu;
  bool cuda = false;
  bool shardOptimizer = false;
};

/// Compiles through a temporary directory, so that a reader never sees
/// half an artifact; replaces an old one.
bool compileInPlace(const CompileRequest &request) {
  // Beside the artifact (one file system, so the rename is atomic), and
  // ending in .kiln, which is what makes the compiler write an artifact.
  std::string temporary = request.artifact.substr(0, request.artifact.size() - 5) + ".tmp-" +
                          std::to_string(::getpid()) + ".kiln";
  std::vector<std::string> args{request.model, "-o", temporary, "--quiet", "--ranks",
                                std::to_string(request.ranks)};
  if (request.batchSize)
    args.insert(args.end(), {"--batch-size", std::to_string(*request.batchSize)});
  if (request.bucketSize)
    args.insert(args.end(), {"--bucket-size", std::to_string(*request.bucketSize)});
  if (request.precision)
    args.insert(args.end(), {"--precision", *request.precision});
  if (request.recompute)
    args.insert(args.end(), {"--recompute", *request.recompute});
  if (request.allReducePrecision)
    args.insert(args.end(), {"--all-reduce-precision", *request.allReducePrecision});
  if (request.shardOptimizer)
    args.push_back("--shard-optimizer");
  if (!request.cpu.empty())
    args.insert(args.end(), {"--cpu", request.cpu});
  if (request.cuda)
    args.push_back("--target=cuda");
  if (runCompiler(args) != 0) {
    std::filesystem::remove_all(temporary);
    return false;
  }
  std::error_code ec;
  std::filesystem::remove_all(request.artifact, ec);
  std::filesystem::rename(temporary, request.artifact, ec);
  if (ec) {
    std::filesystem::remove_all(temporary);
    std::fprintf(stderr, "kiln train: cannot move the artifact to %s: %s\n",
                 request.artifact.c_str(), ec.message().c_str());
    return false;
  }
  return true;
}

/// Rank 0 compiles; then, on machines that do not share rank 0's run
/// directory, local rank 0. Every rank learns whether all succeeded.
bool compileForRanks(const CompileRequest &request, Collectives &comm, bool quiet) {
  const World &w = comm.world();
  auto everyoneOk = [&](bool ok) {
    for (uint64_t v : comm.allGather(ok ? 1 : 0))
      if (!v)
        return false;
    return true;
  };
  if (!quiet && w.rank == 0)
    std::fprintf(stderr, "kiln train: compiling %s into %s for %d rank%s\n",
                 request.model.c_str(), request.artifact.c_str(), request.ranks,
                 request.ranks == 1 ? "" : "s");
  if (!everyoneOk(w.rank != 0 || compileInPlace(request)))
    return false;
  bool own = w.rank != 0 && w.localRank == 0 && !std::filesystem::exists(request.artifact);
  return everyoneOk(!own || compileInPlace(request));
}

/// Copies the weights of `path` into the parameters and module state:
/// names as the model's, or one network's without its prefix (kiln
/// export); every name must be one of them with that shape, else all
/// mismatches are listed.
bool initFrom(Executor &exec, const std::string &path, std::optional<std::string> network,
              std::string &error) {
  TensorMap given, params = exec.networkTensors();
  if (!readSafetensors(path, given, error))
    return false;
  std::set<std::string> networks;
  for (auto &[name, t] : params)
    networks.insert(name.substr(0, name.find('.')));
  bool prefixed = std::all_of(given.begin(), given.end(),
                              [&](auto &e) { return params.count(e.first) > 0; });
  if (!prefixed && !network && networks.size() == 1)
    network = *networks.begin();
  TensorMap renamed;
  std::string problems;
  for (auto &[name, t] : given) {
    std::string ours = prefixed || !network ? name : *network + "." + name;
    auto it = params.find(ours);
    if (it == params.end())
      problems += "\n  '" + name + "': no parameter or module state " + ours;
    else if (it->second.shape != t.shape || it->second.dtype != t.dtype)
      problems += "\n  '" + name + "': " + t.dtype + " of another shape than " + ours;
    else
      renamed[ours] = t;
  }
  if (!problems.empty()) {
    error = path + " does not fit the model" +
            (!prefixed && !network ? " (several networks: give --init-network)" : "") + ":" +
            problems;
    return false;
  }
  return exec.setNetworkTensors(renamed, path, error);
}

/// Stops with `message` on every rank (one rank: just this one).
int failRanks(Collectives *comm, const std::string &message) {
  if (comm && comm->world().size > 1)
    comm->fail(message);
  std::fprintf(stderr, "kiln train: %s\n", message.c_str());
  return 1;
}

} // namespace

int trainMain(int argc, char **argv) {
  Args args(argc, argv,
            {"epochs", "steps", "batch-size", "seed", "threads", "out", "data", "eval-data",
             "loader-threads", "cpu", "bucket-size", "precision", "recompute", "all-reduce-precision", "comm-timeout", "snapshot-every",
             "keep-snapshots", "init-from", "init-network", "device", "eval-every"},
            {"quiet", "resume", "no-eval", "shard-optimizer", "help"});
  if (args.flag("help")) {
    std::printf(kUsage, kDataUsage);
    return 0;
  }
  TrainOptions options;
  options.epochs = args.integer("epochs", 1);
  options.steps = args.integer("steps", 1);
  options.seed = args.integer("seed", 0);
  auto threads = args.integer("threads", 1);
  auto batch = args.integer("batch-size", 1);
  auto bucketSize = args.integer("bucket-size", 1);
  std::optional<std::string> precision = args.value("precision");
  std::optional<std::string> recompute = args.value("recompute");
  std::optional<std::string> allReducePrecision = args.value("all-reduce-precision");
  auto timeout = args.integer("comm-timeout", 1);
  options.snapshotEvery = args.integer("snapshot-every", 1).value_or(0);
  options.evalEvery = args.integer("eval-every", 1);
  options.noEval = args.flag("no-eval");
  options.keepSnapshots = static_cast<int>(args.integer("keep-snapshots", 1).value_or(3));
  options.resume = args.flag("resume");
  bool cuda = args.cuda();
  if (!args.ok())
    return usageError(args.error);
  if (args.positional.size() != 1)
    return usageError("give one MODEL.json or OUT.kiln");
  options.runDir = args.value("out").value_or("run");
  options.quiet = args.flag("quiet");

  // A file-size limit (ulimit -f) must fail the write, not kill the run.
  std::signal(SIGXFSZ, SIG_IGN);
  std::string error;
  World world;
  if (!detectWorld(world, error))
    return usageError(error);
  std::unique_ptr<Collectives> comm = connectRanks(world, timeout.value_or(300), error);
  if (!comm) {
    std::fprintf(stderr, "kiln train: rank %d: %s\n", world.rank, error.c_str());
    return 1;
  }
  const World w = comm->world(); // a copy: comm is replaced by NCCL's on a GPU
  options.quiet |= w.rank != 0;

  std::string artifact = args.positional[0];
  if (!isArtifactPath(artifact)) {
    // A graph that does not compile leaves no run directory behind.
    std::error_code ec;
    bool existed = std::filesystem::exists(options.runDir, ec);
    std::filesystem::create_directories(options.runDir);
    CompileRequest request{artifact, options.runDir + "/model.kiln", batch, bucketSize,
                           precision, recompute, allReducePrecision, w.size,
                           args.value("cpu").value_or(""), cuda, args.flag("shard-optimizer")};
    if (!compileForRanks(request, *comm, options.quiet)) {
      if (!existed && w.rank == 0)
        std::filesystem::remove(options.runDir, ec); // only if still empty
      return 1; // the compiler printed why
    }
    artifact = request.artifact;
  } else if (batch || bucketSize || precision || recompute || allReducePrecision ||
             args.flag("shard-optimizer")) {
    return usageError(std::string(batch                ? "--batch-size"
                                  : bucketSize         ? "--bucket-size"
                                  : precision          ? "--precision"
                                  : recompute          ? "--recompute"
                                  : allReducePrecision ? "--all-reduce-precision"
                                                       : "--shard-optimizer") +
                      " needs MODEL.json: an artifact is already compiled");
  }

  int n = threads ? *threads
                  : std::max<int>(1, std::thread::hardware_concurrency() / w.localSize);
  auto exec = Executor::load(artifact, n, error, cuda ? w.localRank : -1);
  if (!exec)
    return failRanks(comm.get(), error);
  if (!exec->useCollectives(comm, error)) {
    std::fprintf(stderr, "kiln train: rank %d: %s\n", w.rank, error.c_str());
    return 1;
  }
  // A frozen network's init_from (a teacher) is read now, unless --init-from
  // gives it or a snapshot to resume from has it.
  std::set<std::string> given;
  if (auto init = args.value("init-from")) {
    if (!initFrom(*exec, *init, args.value("init-network"), error))
      return failRanks(comm.get(), error);
    given = args.value("init-network") ? std::set<std::string>{*args.value("init-network")}
                                       : networksWithFiles(exec->manifest());
  }
  bool resuming = options.resume && !snapshotFiles(options.runDir).empty();
  if (!resuming && !loadNetworkFiles(*exec, given, error))
    return failRanks(comm.get(), error);

  // Every rank must run the same step: the manifest's CRC covers the
  // program and every file's CRC.
  uint32_t crc = 0;
  int64_t bytes = 0;
  fileCrc32(artifact + "/manifest.json", crc, bytes);
  options.artifactCrc = crc32Hex(crc);
  std::vector<uint64_t> crcs = comm->allGather(crc);
  for (int r = 0; r < w.size; ++r)
    if (crcs[r] != crcs[0]) {
      if (w.rank == 0)
        std::fprintf(stderr,
                     "kiln train: the ranks run different artifacts: rank 0's %s/manifest.json "
                     "has CRC-32 %08llx, rank %d's %08llx; give every rank the same OUT.kiln "
                     "(or the same MODEL.json and options)\n",
                     artifact.c_str(), (unsigned long long)crcs[0], r,
                     (unsigned long long)crcs[r]);
      else
        std::fprintf(stderr, "kiln train: rank %d: the ranks run different artifacts (see rank "
                             "0's output)\n", w.rank);
      return 1;
    }

  data::Dataset dataset;
  options.loaderThreads = loaderThreads(args, exec->threads(), w.localSize);
  if (!loadDataset(exec->manifest().data, args, dataset, error))
    return failRanks(comm.get(), error);
  if (!options.quiet)
    std::fprintf(stderr,
                 "kiln train: %s, %lld training images, batch %lld per rank × %d ranks, "
                 "%s, %d loader threads\n",
                 exec->manifest().model.c_str(), (long long)dataset.trainSize(),
                 (long long)exec->manifest().batchSize, w.size,
                 exec->device() ? exec->device()->description().c_str()
                                : (std::to_string(exec->threads()) + " threads per rank").c_str(),
                 options.loaderThreads);
  TrainResult result;
  if (!train(*exec, dataset, options, result, error))
    return failRanks(comm.get(), error);
  if (w.rank == 0 && result.testAccuracy >= 0)
    std::printf("test accuracy: %.2f%%\n", 100 * result.testAccuracy);
  if (w.rank == 0 && result.testMse >= 0)
    std::printf("test reconstruction MSE: %.5f\n", result.testMse);
  return 0;
}

} // namespace kiln
