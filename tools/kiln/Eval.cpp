//===- Eval.cpp - kiln eval ------------------------------------------------===//
//
// kiln eval OUT.kiln [--params FILE] [--data DIR]: the evaluation the
// graph's train.eval names (test accuracy, the reconstruction's MSE, or
// DINO's weighted k-NN on the training set's features) on the artifact's
// parameters or a run's (RUNDIR/params.safetensors). Prints one JSON line.
//
//===----------------------------------------------------------------------===//
#include "Args.h"
#include "Dataset.h"
#include "Subcommands.h"

#include "runtime/exec/NetworkFiles.h"
#include "runtime/train/Trainer.h"

#include <cstdio>
#include <thread>

namespace kiln {
namespace {

const char *kUsage =
    "usage: kiln eval OUT.kiln [--params FILE] [--data PATH] [--threads N] [--device cpu|cuda]\n"
    "\n"
    "  --params FILE     parameters to evaluate (a run's params.safetensors);\n"
    "                    default: the artifact's initial ones\n"
    "  --threads N       threads (default: all cores)\n"
    "  --device D        cpu (default) or cuda (GPU 0; the artifact compiled --target=cuda)\n"
    "%s";

} // namespace

int evalMain(int argc, char **argv) {
  Args args(argc, argv, {"params", "data", "eval-data", "loader-threads", "threads", "device"},
            {"help"});
  if (args.flag("help")) {
    std::printf(kUsage, kDataUsage);
    return 0;
  }
  auto threads = args.integer("threads", 1);
  bool cuda = args.cuda();
  if (!args.ok() || args.positional.size() != 1) {
    std::fprintf(stderr, "kiln eval: %s\n\n", args.ok() ? "give one OUT.kiln" : args.error.c_str());
    std::fprintf(stderr, kUsage, kDataUsage);
    return 2;
  }
  std::string error;
  int n = threads ? *threads : std::max(1u, std::thread::hardware_concurrency());
  auto exec = Executor::load(args.positional[0], n, error, cuda ? 0 : -1);
  if (!exec) {
    std::fprintf(stderr, "kiln eval: %s\n", error.c_str());
    return 1;
  }
  if (exec->program("eval") < 0) {
    std::fprintf(stderr, "kiln eval: %s has no evaluation (the graph names no train.eval)\n",
                 args.positional[0].c_str());
    return 1;
  }
  if (auto path = args.value("params")) {
    TensorMap t;
    if (!readSafetensors(*path, t, error) || !exec->setNetworkTensors(t, *path, error)) {
      std::fprintf(stderr, "kiln eval: %s\n", error.c_str());
      return 1;
    }
  } else if (!loadNetworkFiles(*exec, {}, error)) { // a teacher's init_from
    std::fprintf(stderr, "kiln eval: %s\n", error.c_str());
    return 1;
  }
  data::Dataset dataset;
  int loaders = loaderThreads(args, exec->threads(), 1);
  if (!args.ok() || !loadDataset(exec->manifest().data, args, dataset, error)) {
    error = args.ok() ? error : args.error;
    std::fprintf(stderr, "kiln eval: %s\n", error.c_str());
    return 1;
  }
  EvalResult r = evaluate(*exec, dataset, loaders, error);
  if (!error.empty()) {
    std::fprintf(stderr, "kiln eval: %s\n", error.c_str());
    return 1;
  }
  const auto &spec = exec->manifest().train["eval"];
  nlohmann::ordered_json out = {{"model", exec->manifest().model},
                                {"kind", spec.value("kind", "accuracy")},
                                {"test_images", r.images}};
  out.update(evalResultJson(r));
  std::printf("%s\n", out.dump().c_str());
  return 0;
}

} // namespace kiln
