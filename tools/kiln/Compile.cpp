//===- Compile.cpp - kiln compile ------------------------------------------===//
//
// Imports a JSON graph and runs the pipeline phase by phase (one pass manager
// each, so MLIR's --mlir-* flags apply to every phase), optionally dumping the
// IR after each phase. Output is written only when every phase succeeded.
//
//===----------------------------------------------------------------------===//
#include "Build.h"
#include "CompilerProcess.h"
#include "compiler/Artifact/ArtifactWriter.h"
#include "compiler/Codegen/KernelLibrary.h"
#include "compiler/Codegen/KernelObjects.h"

#include "compiler/Import/GraphImporter.h"
#include "compiler/Pipeline/Phases.h"
#include "compiler/Pipeline/Registration.h"
#include "compiler/Transforms/StepUtils.h"
#include "runtime/artifact/Crc32.h"
#include "runtime/artifact/DurableFile.h"
#include "runtime/artifact/Manifest.h"

#include "mlir/IR/AsmState.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Support/FileUtilities.h"
#include "mlir/Support/Timing.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/ToolOutputFile.h"

#include <filesystem>
#include <unistd.h>

using namespace mlir;
namespace cl = llvm::cl;

namespace {

cl::OptionCategory category("kiln compile options");

cl::opt<std::string> inputPath(cl::Positional, cl::desc("MODEL.json"),
                               cl::cat(category));
cl::opt<std::string> outputPath(
    "o", cl::desc("Write the result here: OUT.kiln is the artifact (after every "
                  "phase); any other path (or '-', stdout) gets the IR after the "
                  "last IR phase run, or the dump of the back-half phase "
                  "--compile-to names (thunks, buffer-plan, kernels)"),
    cl::value_desc("OUT"), cl::init("-"), cl::cat(category));
cl::opt<std::string> compileTo("compile-to",
                               cl::desc("Stop after this phase (see --list-phases)"),
                               cl::value_desc("PHASE"), cl::cat(category));
cl::opt<std::string>
    dumpPhasesTo("dump-phases-to",
                 cl::desc("Write the IR after each phase to DIR/NN-PHASE.mlir, "
                          "with locations (the back half's: NN-thunks.txt, "
                          "NN-buffer-plan.txt, NN-kernels.mlir), and an index to "
                          "DIR/index.txt"),
                 cl::value_desc("DIR"), cl::cat(category));
cl::opt<bool> listPhases("list-phases", cl::desc("List the phases and exit"),
                         cl::cat(category));
cl::opt<std::string> cpu("cpu",
                        cl::desc("CPU the kernels are compiled for: an LLVM CPU name "
                                 "or 'host' (default: x86-64-v3, portable)"),
                        cl::value_desc("CPU"), cl::cat(category));
cl::opt<std::string>
    dumpKernelsTo("dump-kernels-to",
                  cl::desc("Write each kernel's MLIR before and after lowering, its LLVM "
                           "IR before and after optimisation and its assembly to DIR, "
                           "with line info and an index (--target=cuda: also each "
                           "kernel's PTX and ptxas's report on it)"),
                  cl::value_desc("DIR"), cl::cat(category));
cl::opt<std::string> dumpKernel("kernel",
                                cl::desc("With --dump-kernels-to: only this kernel's files "
                                         "(a kernel's name, or a region's: fusion_N_...)"),
                                cl::value_desc("NAME"), cl::cat(category));
cl::opt<std::string> dumpPlanTo("dump-plan-to",
                                cl::desc("Write the buffer plan (which value lives "
                                         "where, arena size) to FILE"),
                                cl::value_desc("FILE"), cl::cat(category));
cl::opt<std::string> target("target",
                            cl::desc("cpu (default): kernels.so; cuda: also PTX of every kernel "
                                     "for sm_80 and sm_90 (the artifact then runs on both)"),
                            cl::value_desc("cpu|cuda"), cl::init("cpu"), cl::cat(category));
cl::opt<bool> noCache("no-cache",
                      cl::desc("Compile every kernel, without reading or filling the kernel "
                               "cache ($KILN_CACHE_DIR, else ~/.cache/kiln/kernels)"),
                      cl::cat(category));
cl::opt<bool> explainFusion("kiln-fusion-explain",
                            cl::desc("Say why each op that could be fused was not (remarks)"),
                            cl::cat(category));
cl::opt<bool> noFusion("no-fusion", cl::desc("Skip kiln-fuse: one kernel per op (for comparisons)"),
                       cl::cat(category));
cl::opt<int64_t> bucketSize("bucket-size",
                            cl::desc("Bytes at which a gradient all-reduce bucket closes "
                                     "(default 25 MiB)"),
                            cl::value_desc("BYTES"), cl::init(kiln::kDefaultBucketBytes),
                            cl::cat(category));
cl::opt<int64_t> firstBucketSize("first-bucket-size",
                                 cl::desc("Bytes at which the first bucket closes "
                                          "(default 1 MiB)"),
                                 cl::value_desc("BYTES"), cl::init(kiln::kDefaultFirstBucketBytes),
                                 cl::cat(category));
cl::opt<std::string> precision("precision",
                               cl::desc("f32, bf16 or fp16: override the graph's train.precision "
                                        "(GEMMs and what follows them in the low precision, "
                                        "kiln-assign-precision)"),
                               cl::value_desc("f32|bf16|fp16"), cl::cat(category));
cl::opt<std::string> recompute("recompute",
                               cl::desc("none or auto: override the graph's train.recompute "
                                        "(default auto: cheap activations recomputed in backward "
                                        "instead of kept, kiln-recompute)"),
                               cl::value_desc("none|auto"), cl::cat(category));
cl::opt<std::string> allReduceDType(
    "all-reduce-precision",
    cl::desc("f32 or bf16: override the graph's train.all_reduce_precision (bf16: gradient "
             "buckets averaged over the ranks in bf16, kiln-compress-all-reduce)"),
    cl::value_desc("f32|bf16"), cl::cat(category));
cl::opt<int64_t> ranks("ranks",
                       cl::desc("Compile for data-parallel training on N ranks: the step "
                                "takes the (global) batch size / N images"),
                       cl::value_desc("N"), cl::init(1), cl::cat(category));
cl::opt<bool> shardOptimizer(
    "shard-optimizer",
    cl::desc("Shard gradients and optimizer state over the --ranks (ZeRO 1/2): each rank "
             "updates its chunk of every parameter, then the ranks gather them "
             "(kiln-shard-optimizer)"),
    cl::cat(category));
cl::opt<bool> quiet("quiet", cl::desc("No message when the output is written"),
                    cl::cat(category));
cl::opt<int64_t> batchSize("batch-size",
                           cl::desc("Override train.batch_size (the 'batch' "
                                    "name in shapes)"),
                           cl::value_desc("N"), cl::init(0), cl::cat(category));

const char *kOverview =
    "kiln compile: lower a JSON model graph through the kiln pipeline\n\n"
    "  kiln compile MODEL.json -o OUT.kiln [--cpu=host] [--dump-kernels-to=DIR]\n"
    "  kiln compile MODEL.json [-o OUT.mlir] [--compile-to=PHASE] "
    "[--dump-phases-to=DIR]\n\n"
    "MLIR's pass-manager flags work on every phase: --mlir-print-ir-after-all,\n"
    "--mlir-print-ir-tree-dir=DIR, --mlir-timing,\n"
    "--mlir-pass-pipeline-crash-reproducer=FILE, --mlir-print-debuginfo and\n"
    "the rest listed by --help-hidden.\n\n"
    "Exit status: 0 on success, 1 if the graph is invalid or a phase fails,\n"
    "2 on bad usage.\n";

int fail(const llvm::Twine &message, int code) {
  llvm::errs() << "kiln compile: " << message << "\n";
  return code;
}

/// Whether -o may be written: never the input graph, a directory, or,
/// for an artifact, anything but an earlier artifact (or an empty
/// directory); false with the reason.
bool outputMayBeWritten(bool artifact, std::string &why) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (outputPath == "-" || !fs::exists(outputPath.getValue(), ec))
    return true;
  if (kiln::sameFile(outputPath, inputPath)) {
    why = "that is the input graph; refusing to write over it";
    return false;
  }
  bool directory = fs::is_directory(outputPath.getValue(), ec);
  if (artifact && directory &&
      (fs::is_empty(outputPath.getValue(), ec) || kiln::isArtifactDirectory(outputPath)))
    return true;
  if (artifact || directory) {
    why = std::string(directory ? "a directory" : "a file") +
          " that is not a kiln artifact is there; refusing to replace it (remove it or "
          "choose another path)";
    return false;
  }
  return kiln::mayReplace(outputPath, kiln::OutputKind::Text, why);
}

/// Writes `text` to `path` (written whole or not at all, with the
/// system's reason), or to stdout for "-".
bool writeText(llvm::StringRef path, llvm::StringRef text) {
  if (path == "-") {
    llvm::outs() << text;
    return true;
  }
  std::string error;
  if (kiln::writeFileAtomically(path.str(), {std::string_view(text.data(), text.size())}, error))
    return true;
  fail(error, 1);
  return false;
}

/// Writes DIR/NN-PHASE.EXT: a header line, then what `body` prints.
bool dumpPhase(const kiln::Phase &phase, llvm::StringRef ext, std::string &indexText,
               llvm::function_ref<void(llvm::raw_ostream &)> body) {
  unsigned index = &phase - kiln::kilnPhases().begin();
  llvm::SmallString<16> name;
  llvm::raw_svector_ostream(name) << llvm::format("%02u", index) << "-" << phase.name << ext;
  llvm::SmallString<256> path(dumpPhasesTo.getValue());
  llvm::sys::path::append(path, name);
  std::string text;
  llvm::raw_string_ostream os(text);
  os << "// kiln: after phase '" << phase.name << "' (" << phase.description << ") of "
     << inputPath << "\n";
  body(os);
  if (!writeText(path, text))
    return false;
  indexText += (name + "  " + phase.description + "\n").str();
  return true;
}

/// The IR after an IR phase, with the locations that point into the graph.
bool dumpIR(ModuleOp module, const kiln::Phase &phase, std::string &indexText) {
  return dumpPhase(phase, ".mlir", indexText, [&](llvm::raw_ostream &os) {
    os << "// Locations (#locN at the end) point into the JSON graph.\n";
    module->print(os, OpPrintingFlags().enableDebugInfo());
    os << "\n";
  });
}

/// What a snapshot must match to resume in this artifact: a CRC-32 of the
/// graph as imported for one rank (the global batch, every node, constant,
/// parameter, schedule and section; not the file's path) and of the
/// options that change the numbers. The same at every --ranks and with or
/// without --shard-optimizer, so a run resumes across them.
std::string trainingKeyOf(MLIRContext &context, const std::string &path, kiln::ImportOptions options,
                          const kiln::PipelineOptions &pipeline) {
  options.ranks = 1;
  OwningOpRef<ModuleOp> module = kiln::importGraph(context, path, options);
  if (!module)
    return "";
  (*module)->removeAttr("kiln.source");
  std::string text;
  llvm::raw_string_ostream os(text);
  module->print(os);
  os << "\nprecision " << pipeline.precision << " all_reduce_precision "
     << pipeline.allReducePrecision << " fusion " << pipeline.fusion;
  return kiln::crc32Hex(kiln::crc32(text.data(), text.size(), 0));
}


} // namespace

int kiln::compilerMain(int argc, char **argv) {
  // Passes first: --mlir-print-ir-before=kiln-fuse looks the name up among
  // the passes registered when the pass-manager options are.
  registerKilnPassesAndPipelines();
  registerPassManagerCLOptions();
  registerAsmPrinterCLOptions();
  registerMLIRContextCLOptions();
  registerDefaultTimingManagerCLOptions();
  cl::HideUnrelatedOptions(category);
  // Its messages say "kiln compile: ...", as the other subcommands' do.
  std::vector<const char *> args(argv, argv + argc);
  args[0] = "kiln compile";
  cl::ParseCommandLineOptions(argc, args.data(), kOverview);

  if (listPhases) {
    for (const Phase &p : kilnPhases())
      llvm::outs() << llvm::format("  %-10s %s\n", p.name, p.description);
    return 0;
  }
  if (inputPath.empty())
    return fail("no MODEL.json given (see 'kiln compile --help')", 2);
  bool artifact = isArtifactPath(outputPath);
  const Phase *last = artifact ? &kilnPhases().back() : lastIRPhase();
  if (!compileTo.empty() && !(last = findPhase(compileTo))) {
    std::string names;
    for (const Phase &p : kilnPhases())
      names += std::string(names.empty() ? "" : ", ") + p.name;
    return fail("unknown phase '" + compileTo + "' (phases: " + names + ")", 2);
  }
  if (artifact && last != &kilnPhases().back())
    return fail("an artifact needs every phase; drop --compile-to or write .mlir", 2);
  if (!artifact && last == &kilnPhases().back())
    return fail("phase 'artifact' writes OUT.kiln: give -o a path ending in .kiln", 2);
  if (batchSize.getNumOccurrences() && batchSize < 1)
    return fail("--batch-size must be at least 1", 2);
  if (ranks < 1)
    return fail("--ranks must be at least 1", 2);

  if (bucketSize < 1 || firstBucketSize < 1)
    return fail("--bucket-size and --first-bucket-size must be at least 1 byte", 2);
  if (precision.getNumOccurrences() && !precisionNamed(precision))
    return fail("--precision must be f32, bf16 or fp16, not '" + precision + "'", 2);
  if (recompute.getNumOccurrences() && recompute != "none" && recompute != "auto")
    return fail("--recompute must be none or auto, not '" + recompute + "'", 2);
  if (allReduceDType.getNumOccurrences() && allReduceDType != "f32" && allReduceDType != "bf16")
    return fail("--all-reduce-precision must be f32 or bf16, not '" + allReduceDType + "'", 2);
  if (std::string why; !kiln::checkCpu(cpu, why))
    return fail("--cpu: " + why, 2);
  if (std::string why; !outputMayBeWritten(artifact, why))
    return fail("-o " + outputPath + ": " + why, 2);
  if (std::string why;
      !dumpPlanTo.empty() && !kiln::mayReplace(dumpPlanTo, kiln::OutputKind::Text, why))
    return fail("--dump-plan-to " + dumpPlanTo + ": " + why, 2);
  PipelineOptions pipeline;
  pipeline.precision = precision;
  pipeline.recompute = recompute;
  pipeline.allReducePrecision = allReduceDType;
  pipeline.shardOptimizer = shardOptimizer;
  pipeline.bucketSize = bucketSize;
  pipeline.firstBucketSize = firstBucketSize;
  pipeline.fusion = !noFusion;
  pipeline.explainFusion = explainFusion;
  DialectRegistry registry;
  registerKilnDialects(registry);
  MLIRContext context(registry);
  context.loadAllAvailableDialects();
  GraphDiagnostics diagnostics(context);

  ImportOptions importOptions;
  if (batchSize.getNumOccurrences())
    importOptions.batchSize = batchSize;
  importOptions.ranks = ranks;
  OwningOpRef<ModuleOp> module = importGraph(context, inputPath, importOptions);
  if (!module)
    return 1;

  std::string indexText;
  if (!dumpPhasesTo.empty()) {
    if (std::error_code ec = llvm::sys::fs::create_directories(dumpPhasesTo))
      return fail("cannot create " + dumpPhasesTo + ": " + ec.message(), 1);
  }
  auto dump = [&](const Phase &phase, unsigned) {
    return dumpPhasesTo.empty() || dumpIR(*module, phase, indexText);
  };
  auto configure = [](PassManager &pm) {
    if (failed(applyPassManagerCLOptions(pm)))
      return false;
    applyDefaultTimingPassManagerCLOptions(pm);
    return true;
  };
  // An artifact also records the arena its step needs without
  // recomputation: when the step recomputes anything, a copy of the graph
  // goes through the pipeline after it with recompute none and no
  // checkpoints (kiln inspect shows both). The step itself runs as one
  // pass manager, which MLIR's IR printing needs.
  OwningOpRef<ModuleOp> withoutRecompute;
  if (artifact && recomputes(*module, pipeline.recompute))
    withoutRecompute = module->clone();
  bool ok = succeeded(runPhases(*module, pipeline, last, nullptr, dump, configure));
  if (ok && withoutRecompute) {
    (*withoutRecompute)->removeAttr("kiln.checkpoint");
    PipelineOptions none = pipeline;
    none.recompute = "none";
    none.explainFusion = false;
    ok = succeeded(runPhases(*withoutRecompute, none, last));
  }
  std::string error, text; // text: the dump of a back-half phase asked for
  KernelStats stats;
  // --mlir-timing: the back half's stages too (the phases report their passes).
  DefaultTimingManager timingManager;
  applyDefaultTimingManagerCLOptions(timingManager);
  TimingScope timingRoot = timingManager.getRootScope();
  if (ok && !last->onIR()) {
    if (target != "cpu" && target != "cuda")
      return fail("--target: '" + target + "' is not cpu or cuda", 2);
    ArtifactOptions options{cpu, dumpKernelsTo, target == "cuda",
                            noCache ? "" : defaultKernelCache(), &stats, last->name, {}};
    options.dumpKernel = dumpKernel;
    options.trainingKey = trainingKeyOf(context, inputPath, importOptions, pipeline);
    if (withoutRecompute)
      options.withoutRecompute = *withoutRecompute;
    options.printKernels = !dumpPhasesTo.empty() || last->name == std::string("kernels");
    options.timing = &timingRoot;
    options.setupPassManager = [](PassManager &pm) { return applyPassManagerCLOptions(pm); };
    options.afterPhase = [&](const std::string &name, const std::function<std::string()> &print) {
      const Phase &phase = *findPhase(name);
      bool plan = name == "buffer-plan" && !dumpPlanTo.empty();
      if (!plan && &phase != last && dumpPhasesTo.empty())
        return true;
      std::string dump = print();
      if (plan && !writeText(dumpPlanTo, dump))
        return false;
      if (&phase == last)
        text = dump;
      return dumpPhasesTo.empty() ||
             dumpPhase(phase, name == "kernels" ? ".mlir" : ".txt", indexText,
                       [&](llvm::raw_ostream &os) { os << dump; });
    };
    // Stopping before the artifact writes it nowhere: a scratch path.
    std::string out = artifact ? outputPath.getValue()
                               : (std::filesystem::temp_directory_path() /
                                  ("kiln-compile-" + std::to_string(::getpid()) + ".kiln"))
                                     .string();
    ok = writeArtifact(*module, out, options, error);
    if (!ok && !error.empty())
      fail(error, 1);
  }
  if (!ok && !dumpPhasesTo.empty())
    indexText += "(a phase failed)\n";
  if (!dumpPhasesTo.empty()) {
    llvm::SmallString<256> path(dumpPhasesTo.getValue());
    llvm::sys::path::append(path, "index.txt");
    if (!writeText(path, "Each phase of kiln compile on " + inputPath + "\n" + indexText))
      return 1;
  }
  if (!ok)
    return 1;
  if (artifact) {
    if (!quiet)
      llvm::errs() << "kiln compile: wrote the artifact " << outputPath << " ("
                   << stats.launches << " kernel launches, " << stats.kernels
                   << " distinct kernels, " << stats.cached << " of those from the cache)\n";
    return 0;
  }
  if (!last->onIR()) {
    if (!writeText(outputPath, text))
      return 1;
    if (outputPath != "-" && !quiet)
      llvm::errs() << "kiln compile: wrote the dump of phase '" << last->name << "' to "
                   << outputPath << "\n";
    return 0;
  }
  std::string ir;
  llvm::raw_string_ostream irStream(ir);
  module->print(irStream);
  irStream << "\n";
  if (!writeText(outputPath, ir))
    return 1;
  if (outputPath != "-" && !quiet)
    llvm::errs() << "kiln compile: wrote the IR after phase '" << last->name
                 << "' to " << outputPath << "\n";
  if (!dumpPhasesTo.empty() && !quiet)
    llvm::errs() << "kiln compile: IR after each phase in " << dumpPhasesTo
                 << "/ (index: " << dumpPhasesTo << "/index.txt)\n";
  return 0;
}
