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
#include "CommandLine.h"
#include "CompilerProcess.h"
#include "Dataset.h"
#include "Subcommands.h"

#include "runtime/artifact/Crc32.h"
#include "runtime/comm/Collectives.h"
#include "runtime/comm/Rendezvous.h"
#include "runtime/exec/NetworkFiles.h"
#include "runtime/train/RunDirectory.h"
#include "runtime/train/Snapshot.h"
#include "runtime/train/Trainer.h"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <thread>
#include <unistd.h>

namespace kiln {
namespace {

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

/// kiln-compile's options for `request` (what makes the artifact, apart
/// from the model and where it goes).
std::vector<std::string> compileOptions(const CompileRequest &request) {
  std::vector<std::string> args{"--ranks", std::to_string(request.ranks)};
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
  return args;
}

/// Compiles `request.model` into `request.artifact` (kiln-compile swaps a
/// finished artifact in atomically: a reader never sees half of one).
bool compileInPlace(const CompileRequest &request) {
  std::vector<std::string> args{request.model, "-o", request.artifact, "--quiet"};
  for (std::string &option : compileOptions(request))
    args.push_back(std::move(option));
  return runCompiler(args) == 0;
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
bool initWeightsFrom(Executor &exec, const std::string &path, std::optional<std::string> network,
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

/// The status of a run stopped by a signal with its snapshot written: "go
/// on with --resume" for a requeue script, apart from success (0), failure
/// (1) and a bad command line (2). EX_TEMPFAIL of sysexits.h.
constexpr int kStoppedForResume = 75;

StopRequest stopRequest;
/// Set once a stopped run's snapshot and summary are written: a signal
/// after that (the SIGTERM `scontrol requeue` sends the job) ends the
/// process as the clean stop it is, and the deadline no longer applies.
std::atomic<bool> stopWritten{false};

/// The stop signals are blocked in every thread (the mask is set before
/// any thread starts, and threads inherit it) and taken by one thread in
/// sigwait: no compute thread is ever interrupted (a SIGTERM landing in a
/// worker mid-GEMM crashed oneDNN, about one stop in ten), no system call
/// returns EINTR, and what a stop does needs no async-signal safety. The
/// first signal asks the run to end after the step in flight and starts
/// the --stop-deadline clock; a second one ends the process at once with
/// that signal (the snapshot being written is a temporary file; the
/// previous one stays whole); the deadline passing (a cluster's grace
/// period before SIGKILL) ends it with status 1, keeping the previous
/// snapshot.
void takeStopSignals(sigset_t signals, int64_t deadlineSeconds) {
  int signal = 0;
  while (sigwait(&signals, &signal) != 0 || !stopRequest.request(signal))
    ;
  timespec wait{static_cast<time_t>(deadlineSeconds), 0};
  for (;;) {
    int second = sigtimedwait(&signals, nullptr, &wait);
    if (stopWritten.load()) {
      if (second > 0)
        std::_Exit(kStoppedForResume);
      wait = {3600, 0};
      continue;
    }
    if (second > 0) {
      std::signal(second, SIG_DFL);
      sigset_t only;
      sigemptyset(&only);
      sigaddset(&only, second);
      pthread_sigmask(SIG_UNBLOCK, &only, nullptr); // pending again: ends the process
      raise(second);
    }
    if (second < 0 && errno == EAGAIN) {
      std::fprintf(stderr, "kiln train: the stop did not finish within --stop-deadline (%lld s): "
                           "ending now; the previous snapshot stays\n",
                   (long long)deadlineSeconds);
      std::_Exit(1);
    }
    // EINTR: another signal's handler ran; wait for the rest of the deadline.
    wait.tv_sec = std::max<time_t>(0, deadlineSeconds - time_t(stopRequest.secondsSinceRequest()));
  }
}

/// Blocks the stop signals `names` ("TERM,INT,USR1"; "none") and starts
/// the thread that takes them, the stop taking at most `deadline` seconds:
/// false with `error` for a name it does not know. Before any other thread.
bool handleStopSignals(const std::string &names, int64_t deadline, std::string &error) {
  const std::map<std::string, int> known = {
      {"TERM", SIGTERM}, {"INT", SIGINT}, {"USR1", SIGUSR1}, {"USR2", SIGUSR2}, {"HUP", SIGHUP}};
  if (names == "none")
    return true;
  sigset_t signals;
  sigemptyset(&signals);
  std::stringstream list(names);
  for (std::string name; std::getline(list, name, ',');) {
    auto it = known.find(name.rfind("SIG", 0) == 0 ? name.substr(3) : name);
    if (it == known.end()) {
      error = "--stop-signals: '" + name + "' is not one of TERM, INT, USR1, USR2, HUP (or none)";
      return false;
    }
    sigaddset(&signals, it->second);
  }
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  std::thread(takeStopSignals, signals, deadline).detach();
  return true;
}

/// The run's id on every rank: rank 0's, from the run directory it holds.
std::string sharedRunId(const RunDirectory *run, Collectives &comm) {
  constexpr int64_t kBytes = 32;
  std::vector<char> ids(kBytes * comm.world().size, 0);
  if (run)
    run->runId().copy(&ids[kBytes * comm.world().rank], kBytes - 1);
  comm.allGatherBytes(ids.data(), kBytes);
  return std::string(ids.data()); // rank 0's block, NUL-terminated
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
  CommandLine cl("train", "Compiles MODEL.json (into RUNDIR/model.kiln) or loads OUT.kiln and "
                          "trains it.");
  TrainOptions options;
  std::string artifact;
  std::optional<int64_t> threads, batch, bucketSize, timeout, snapshotEvery, keepSnapshots;
  std::optional<std::string> out, precision, recompute, allReducePrecision, device, cpu, initFrom,
      initNetwork;
  bool shardOptimizer = false;
  DataOptions data;
  cl.positional("MODEL", artifact, "MODEL.json (compiled first) or OUT.kiln");
  cl.integer("--epochs", options.epochs, 1, 1000000,
             "train N epochs (default: the graph's train.epochs)");
  cl.integer("--steps", options.steps, 1, kMaxSteps, "stop after N steps");
  cl.integer("--batch-size", batch, 1, 1 << 20,
             "global batch size, split over the ranks (compiling MODEL.json only: shapes are "
             "static)");
  cl.integer("--seed", options.seed, 0, INT64_MAX,
             "data order and augmentation seed (default: train.seed)");
  cl.integer("--threads", threads, 1, 1024,
             "threads per rank (default: all cores / ranks on this machine)");
  cl.text("--out", out,
          "run directory (default: run): metrics.jsonl, summary.json, plot.svg, "
          "params.safetensors, model.kiln")->type_name("DIR");
  data.declare(cl);
  cl.text("--cpu", cpu, "compile the kernels for CPU ('host', or an LLVM CPU name)")
      ->type_name("CPU");
  cl.choice("--device", device, {"cpu", "cuda"},
            "cpu (default) or cuda: one GPU per rank (LOCAL_RANK), NCCL between ranks; "
            "MODEL.json is then compiled --target=cuda");
  cl.integer("--bucket-size", bucketSize, 1, int64_t(1) << 40,
             "bytes per gradient all-reduce bucket (default 25 MiB)");
  cl.choice("--precision", precision, {"f32", "bf16", "fp16"},
            "the step's precision (default: the graph's train.precision)");
  cl.choice("--recompute", recompute, {"none", "auto"},
            "cheap activations recomputed in backward instead of kept (default: the graph's "
            "train.recompute, else auto)");
  cl.choice("--all-reduce-precision", allReducePrecision, {"f32", "bf16"},
            "the gradients' all-reduce (default: the graph's train.all_reduce_precision, else "
            "f32)");
  cl.flag("--shard-optimizer", shardOptimizer,
          "gradients and optimizer state sharded over the ranks (ZeRO 1/2): each rank updates "
          "1/N of every parameter");
  bool listenAny = false;
  cl.flag("--listen-any", listenAny,
          "torchrun-style: rank 0 listens on every interface, not only MASTER_ADDR's");
  cl.integer("--comm-timeout", timeout, 1, 7 * 86400,
             "seconds a rank waits for the others before the job ends with an error (default "
             "300)");
  cl.integer("--snapshot-every", snapshotEvery, 1, kMaxSteps,
             "a snapshot every N steps (and at every epoch end) in RUNDIR/snapshots");
  cl.integer("--keep-snapshots", keepSnapshots, 1, 1000, "keep the newest N snapshots (default 3)");
  bool overwrite = false;
  cl.flag("--overwrite", overwrite,
          "replace the run in RUNDIR: all of its files are removed before anything starts");
  cl.flag("--resume", options.resume,
          "go on from the newest good snapshot in RUNDIR (exactly: the same parameters as an "
          "uninterrupted run); fresh if none");
  cl.text("--init-from", initFrom,
          "start from these weights (safetensors: the model's names, or one network's as kiln "
          "export writes them)")->type_name("FILE");
  cl.text("--init-network", initNetwork, "the network the --init-from file's unprefixed names "
                                         "belong to")->type_name("NAME");
  cl.integer("--eval-every", options.evalEvery, 1, 1000000,
             "evaluate every N epochs and at the end (default: the graph's "
             "train.eval.every_epochs, else every epoch)");
  cl.flag("--no-eval", options.noEval, "train without evaluating");
  std::optional<std::string> stopSignals;
  std::optional<int64_t> stopDeadline;
  cl.text("--stop-signals", stopSignals,
          "signals that stop the run after the step in flight with a snapshot, status 75 "
          "(default TERM,INT,USR1; none)")
      ->type_name("LIST");
  cl.integer("--stop-deadline", stopDeadline, 1, 86400,
             "seconds a stop may take before the process ends anyway (default 60)");
  bool requeue = false;
  cl.flag("--requeue", requeue,
          "after a stop by signal, ask SLURM to requeue the job (scontrol requeue "
          "$SLURM_JOB_ID); with --resume the requeued job goes on by itself");
  cl.flag("--quiet", options.quiet, "no progress lines");
  cl.footer("Data parallel: mpirun -n N kiln train ..., srun kiln train ..., or set RANK, "
            "WORLD_SIZE, LOCAL_RANK, MASTER_ADDR and MASTER_PORT per process.");
  if (auto status = cl.parse(argc, argv))
    return *status;
  if (initNetwork && !initFrom)
    return cl.usageError("--init-network needs --init-from");
  if (overwrite && options.resume)
    return cl.usageError("--resume goes on with the run in RUNDIR, --overwrite replaces it: "
                         "give one");
  if (std::error_code ec; std::filesystem::is_directory(artifact, ec) && !isArtifactPath(artifact))
    return cl.usageError(
        artifact + " is a directory, not MODEL.json or OUT.kiln" +
        (std::filesystem::exists(artifact + "/model.kiln", ec)
             ? " (a run directory: its artifact is " + artifact + "/model.kiln; to go on with "
               "the run, give --out " + artifact + " --resume)"
             : std::string()));
  const char *slurmJob = std::getenv("SLURM_JOB_ID");
  if (requeue && !options.resume)
    return cl.usageError("--requeue needs --resume: the requeued job runs this same command, "
                         "which must go on with the run");
  if (requeue && (!slurmJob || !*slurmJob))
    return cl.usageError("--requeue asks SLURM to requeue the job, but SLURM_JOB_ID is not set "
                         "(run it inside sbatch)");
  std::string error;
  if (!handleStopSignals(stopSignals.value_or("TERM,INT,USR1"), stopDeadline.value_or(60), error))
    return cl.usageError(error);
  options.stop = &stopRequest;
  bool cuda = device == "cuda";
  options.runDir = out.value_or("run");
  options.snapshotEvery = snapshotEvery.value_or(0);
  options.keepSnapshots = static_cast<int>(keepSnapshots.value_or(3));

  World world;
  if (!detectWorld(world, error))
    return cl.usageError(error);
  world.listenAny = listenAny;
  CompileRequest request{artifact, options.runDir + "/model.kiln", batch, bucketSize,
                         precision, recompute, allReducePrecision, world.size,
                         cpu.value_or(""), cuda, shardOptimizer};
  std::string optionsText;
  for (const std::string &option : compileOptions(request))
    optionsText += option + " ";
  world.modelCrc = modelCrcOf(artifact, optionsText);
  std::unique_ptr<Collectives> comm = connectRanks(world, timeout.value_or(300), error);
  if (!comm) {
    std::fprintf(stderr, "kiln train: rank %d: %s\n", world.rank, error.c_str());
    return 1;
  }
  const World w = comm->world(); // a copy: comm is replaced by NCCL's on a GPU
  options.quiet |= w.rank != 0;

  std::error_code ec;
  bool existed = std::filesystem::exists(options.runDir, ec);
  if (existed && !std::filesystem::is_directory(options.runDir, ec))
    return cl.usageError("--out " + options.runDir + ": a file is there, not a run directory");
  // Rank 0 owns the run directory: locked for this process's lifetime,
  // another run there refused unless resumed or overwritten. A directory
  // made here goes again if the run fails before its first step.
  std::unique_ptr<RunDirectory> runDirectory;
  struct RemoveIfMade {
    std::string dir;
    bool keep = true;
    ~RemoveIfMade() {
      if (!keep)
        std::filesystem::remove_all(dir);
    }
  } made{options.runDir, existed || w.rank != 0};
  if (w.rank == 0) {
    std::vector<std::string> notes;
    runDirectory = RunDirectory::open(options.runDir,
                                      options.resume ? RunDirectory::Existing::Resume
                                      : overwrite    ? RunDirectory::Existing::Overwrite
                                                     : RunDirectory::Existing::Refuse,
                                      error, notes);
    for (const std::string &note : notes)
      std::fprintf(stderr, "kiln train: note: %s\n", note.c_str());
    if (!runDirectory)
      return failRanks(comm.get(), error);
  }
  options.runId = sharedRunId(runDirectory.get(), *comm);
  if (!isArtifactPath(artifact)) {
    if (!compileForRanks(request, *comm, options.quiet))
      return 1; // the compiler printed why
    artifact = request.artifact;
  } else if (batch || bucketSize || precision || recompute || allReducePrecision ||
             shardOptimizer) {
    return cl.usageError(std::string(batch                ? "--batch-size"
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
  if (initFrom) {
    if (!initWeightsFrom(*exec, *initFrom, initNetwork, error))
      return failRanks(comm.get(), error);
    given = initNetwork ? std::set<std::string>{*initNetwork}
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
  options.loaderThreads = loaderThreads(data, exec->threads(), w.localSize);
  if (!loadDataset(exec->manifest().data, data, dataset, error))
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
  if (w.rank == 0 && !runDirectory->resumed()) {
    std::string command = "kiln";
    for (int i = 0; i < argc; ++i)
      command += std::string(" ") + argv[i];
    nlohmann::ordered_json record = {
        {"command", command},
        {"model", exec->manifest().model},
        {"artifact_crc32", options.artifactCrc},
        {"seed", options.seed.value_or(exec->manifest().train.value("seed", 0))},
        {"world_size", w.size}};
    if (!runDirectory->writeRecord(record, error))
      return failRanks(comm.get(), error);
  }
  made.keep = true; // from here on the directory holds this run
  TrainResult result;
  if (!train(*exec, dataset, options, result, error))
    return failRanks(comm.get(), error);
  if (result.stoppedBy) {
    stopWritten = true;
    if (w.rank != 0)
      return kStoppedForResume;
    char taken[32] = "";
    if (double seconds = stopRequest.secondsSinceRequest(); seconds > 0)
      std::snprintf(taken, sizeof taken, " in %.2f s", seconds);
    std::fprintf(stderr,
                 "kiln train: stopped by signal %d (received during %s) after step %lld%s: "
                 "snapshot in %s/snapshots; go on with the same command and --resume\n",
                 result.stoppedBy, StopRequest::phaseName(result.stopPhase),
                 (long long)result.steps, taken, options.runDir.c_str());
    if (requeue) {
      // The requeued job runs the batch script again: this command with
      // --resume goes on from the snapshot just written.
      int rc = runProcess("scontrol", {"requeue", slurmJob}, error);
      if (rc == 0)
        std::fprintf(stderr, "kiln train: asked SLURM to requeue job %s\n", slurmJob);
      else
        std::fprintf(stderr, "kiln train: scontrol requeue %s failed (%s): requeue the job by "
                             "hand\n",
                     slurmJob, rc < 0 ? error.c_str() : ("status " + std::to_string(rc)).c_str());
    }
    return kStoppedForResume;
  }
  if (w.rank == 0 && result.testAccuracy >= 0)
    std::printf("test accuracy: %.2f%%\n", 100 * result.testAccuracy);
  if (w.rank == 0 && result.testMse >= 0)
    std::printf("test reconstruction MSE: %.5f\n", result.testMse);
  return 0;
}

} // namespace kiln
