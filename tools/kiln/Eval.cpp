//===- Eval.cpp - kiln eval ------------------------------------------------===//
//
// kiln eval OUT.kiln [--params FILE] [--data DIR]: the evaluation the
// graph's train.eval names (test accuracy, the reconstruction's MSE, or
// DINO's weighted k-NN on the training set's features) on the artifact's
// parameters or a run's (RUNDIR/params.safetensors). Prints one JSON line.
//
//===----------------------------------------------------------------------===//
#include "CommandLine.h"
#include "Dataset.h"
#include "Subcommands.h"

#include "runtime/exec/NetworkFiles.h"
#include "runtime/train/Trainer.h"

#include <cstdio>
#include <thread>

namespace kiln {

int evalMain(int argc, char **argv) {
  CommandLine cl("eval", "The evaluation the graph's train.eval names, on an artifact's "
                         "parameters or a run's; prints one JSON line.");
  std::string artifact;
  std::optional<std::string> params, device;
  std::optional<int64_t> threads;
  bool allowPartial = false;
  DataOptions data;
  cl.positional("OUT.kiln", artifact, "the artifact");
  cl.text("--params", params,
          "parameters to evaluate (a run's params.safetensors); default: the artifact's "
          "initial ones")
      ->type_name("FILE");
  cl.flag("--allow-partial", allowPartial,
          "let --params lack some of the model's tensors (they keep their initial values)");
  cl.integer("--threads", threads, 1, 1024, "threads (default: all cores)");
  cl.choice("--device", device, {"cpu", "cuda"},
            "cpu (default) or cuda (GPU 0; the artifact compiled --target=cuda)");
  data.declare(cl);
  if (auto status = cl.parse(argc, argv))
    return *status;
  if (allowPartial && !params)
    return cl.usageError("--allow-partial needs --params");
  bool cuda = device == "cuda";
  std::string error;
  int n = threads ? *threads : std::max(1u, std::thread::hardware_concurrency());
  auto exec = Executor::load(artifact, n, error, cuda ? 0 : -1);
  if (!exec) {
    std::fprintf(stderr, "kiln eval: %s\n", error.c_str());
    return 1;
  }
  if (exec->program("eval") < 0) {
    std::fprintf(stderr, "kiln eval: %s has no evaluation (the graph names no train.eval)\n",
                 artifact.c_str());
    return 1;
  }
  if (params) {
    if (!loadRunParams(*exec, *params, allowPartial, error)) {
      std::fprintf(stderr, "kiln eval: %s\n", error.c_str());
      return 1;
    }
  } else if (!loadNetworkFiles(*exec, {}, error)) { // a teacher's init_from
    std::fprintf(stderr, "kiln eval: %s\n", error.c_str());
    return 1;
  }
  data::Dataset dataset;
  int loaders = loaderThreads(data, exec->threads(), 1);
  if (!loadDataset(exec->manifest().data, data, dataset, error)) {
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
