//===- Train.cpp - kiln train ----------------------------------------------===//
//
// kiln train MODEL.json | OUT.kiln [options]: compiles the graph into
// RUNDIR/model.kiln when given JSON, loads the artifact and trains it on
// Fashion-MNIST (or --data DIR, or --data synthetic:N for tests).
//
//===----------------------------------------------------------------------===//
#include "Args.h"
#include "Build.h"
#include "Dataset.h"
#include "Subcommands.h"

#include "runtime/train/Trainer.h"

#include <cstdio>
#include <thread>

namespace kiln {
namespace {

const char *kUsage =
    "usage: kiln train MODEL.json | OUT.kiln [options]\n"
    "\n"
    "  --epochs N        train N epochs (default: the graph's train.epochs)\n"
    "  --steps N         stop after N steps\n"
    "  --batch-size N    batch size (compiling MODEL.json only: shapes are static)\n"
    "  --seed N          data order and augmentation seed (default: train.seed)\n"
    "  --threads N       threads (default: all cores)\n"
    "  --out RUNDIR      run directory (default: run): metrics.jsonl, summary.json,\n"
    "                    plot.svg, params.safetensors, model.kiln\n"
    "  --data DIR        an IDX dataset (default: /usr/share/datasets/fashion-mnist);\n"
    "                    synthetic:N for N generated images\n"
    "  --cpu CPU         compile the kernels for CPU ('host', or an LLVM CPU name)\n"
    "  --quiet           no progress lines\n";

int usageError(const std::string &message) {
  std::fprintf(stderr, "kiln train: %s\n\n%s", message.c_str(), kUsage);
  return 2;
}

} // namespace

int trainMain(int argc, char **argv) {
  Args args(argc, argv, {"epochs", "steps", "batch-size", "seed", "threads", "out", "data", "cpu"},
            {"quiet", "help"});
  if (args.flag("help")) {
    std::fputs(kUsage, stdout);
    return 0;
  }
  TrainOptions options;
  options.epochs = args.integer("epochs", 1);
  options.steps = args.integer("steps", 1);
  options.seed = args.integer("seed", 0);
  auto threads = args.integer("threads", 1);
  auto batch = args.integer("batch-size", 1);
  if (!args.ok())
    return usageError(args.error);
  if (args.positional.size() != 1)
    return usageError("give one MODEL.json or OUT.kiln");
  options.runDir = args.value("out").value_or("run");
  options.quiet = args.flag("quiet");

  std::string artifact = args.positional[0];
  if (!isArtifactPath(artifact)) {
    BuildRequest request{artifact, options.runDir + "/model.kiln", batch,
                         {args.value("cpu").value_or(""), "", ""}};
    if (!options.quiet)
      std::fprintf(stderr, "kiln train: compiling %s into %s\n", artifact.c_str(),
                   request.artifact.c_str());
    if (int rc = buildArtifact(request))
      return rc;
    artifact = request.artifact;
  } else if (batch) {
    return usageError("--batch-size needs MODEL.json: an artifact's shapes are fixed");
  }

  std::string error;
  int n = threads ? *threads : std::max(1u, std::thread::hardware_concurrency());
  auto exec = Executor::load(artifact, n, error);
  if (!exec) {
    std::fprintf(stderr, "kiln train: %s\n", error.c_str());
    return 1;
  }
  data::Dataset dataset;
  if (!loadDataset(args.value("data"), dataset, error)) {
    std::fprintf(stderr, "kiln train: %s\n", error.c_str());
    return 1;
  }
  if (!options.quiet)
    std::fprintf(stderr, "kiln train: %s, %lld training images, batch %lld, %d threads\n",
                 exec->manifest().model.c_str(), (long long)dataset.train.count,
                 (long long)exec->manifest().batchSize, exec->threads());
  TrainResult result;
  if (!train(*exec, dataset, options, result, error)) {
    std::fprintf(stderr, "kiln train: %s\n", error.c_str());
    return 1;
  }
  if (result.testAccuracy >= 0)
    std::printf("test accuracy: %.2f%%\n", 100 * result.testAccuracy);
  if (result.testMse >= 0)
    std::printf("test reconstruction MSE: %.5f\n", result.testMse);
  return 0;
}

} // namespace kiln
