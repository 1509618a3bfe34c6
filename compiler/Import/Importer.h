//===- Importer.h - state shared by the importer's files --------*- C++ -*-===//
//
// GraphImporter.cpp drives the import; GraphFiles.cpp reads the files,
// GraphSections.cpp their sections, ModuleInstances.cpp instantiates
// modules and networks, GraphBody.cpp evaluates a graph body and
// NodeBuilder.cpp turns one node into kiln ops. Private to compiler/Import.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_IMPORT_IMPORTER_H
#define KILN_IMPORT_IMPORTER_H

#include "compiler/Import/GraphImporter.h"
#include "compiler/Import/JsonSource.h"
#include "compiler/Import/Schema.h"
#include "runtime/artifact/Kinds.h"

#include "mlir/IR/Builders.h"
#include "llvm/ADT/SmallVector.h"

#include <map>
#include <set>
#include <memory>

namespace kiln {

using json = nlohmann::ordered_json;
using Args = std::map<std::string, double>;

/// A module definition and where it was read.
struct ModuleDef {
  const JsonSource *src;
  std::string pointer;
  const json *def;
};

/// The network a module instance belongs to: decides parameter names and how
/// parameters start (fresh, EMA copy of another network, frozen from a file).
struct NetworkContext {
  std::string name;
  std::string emaOf;    // source network of an EMA teacher
  bool frozen = false;
  std::string initFrom;   // safetensors file for a frozen network
  std::string initPrefix; // what its tensor names start with there (e.g. "net.")
};

/// The values a node (or a scope name) stands for; named outputs for calls.
struct Bound {
  llvm::SmallVector<mlir::Value> values;
  std::vector<std::string> names;
  bool firstIsDefault = false; // "id" alone is the first value (max_pool2d's result)
};

/// One graph body being evaluated: a module instance or the objective.
struct Env {
  const JsonSource *src;
  std::string nodesPointer;
  const json *nodes;
  Args args;
  std::string path; // instance path, "" for the objective
  const NetworkContext *network = nullptr;
  std::map<std::string, Bound> bound;
};

class Importer {
public:
  Importer(mlir::MLIRContext &context, const ImportOptions &options);
  mlir::OwningOpRef<mlir::ModuleOp> run(const std::string &path);

  // --- errors (GraphImporter.cpp) -----------------------------------------
  /// Reports the first error; later ones are dropped.
  void error(const JsonSource &src, const std::string &pointer,
             const std::string &message);
  bool failed = false;

  // --- numbers and shapes (GraphImporter.cpp) ------------------------------
  /// A number or an expression over `args`, the global args and, with
  /// `env`, the dimensions of its tensors ("x[0]").
  std::optional<double> number(const JsonSource &src, const std::string &ptr,
                               const json &value, const Args &args,
                               const Env *env = nullptr);
  std::optional<int64_t> integer(const JsonSource &src, const std::string &ptr,
                                 const json &value, const Args &args,
                                 const Env *env = nullptr);
  /// A list of integers or expressions; -1 stays -1 when `allowInfer`.
  std::optional<llvm::SmallVector<int64_t>>
  intList(const JsonSource &src, const std::string &ptr, const json &value,
          const Args &args, const Env *env = nullptr, bool allowInfer = false);

  mlir::Location location(const JsonSource &src, const std::string &pointer,
                          const std::string &name);

  // --- graph bodies (GraphBody.cpp) ----------------------------------------
  /// Evaluates env.nodes in dependency order, binding each id.
  bool evaluateNodes(Env &env);
  /// Whether an "in" entry that names nothing bound is an expression over
  /// arguments and dimensions (a scalar constant) rather than a typo.
  bool isExpressionRef(const Env &env, const std::string &text) const;
  /// Resolves "id" or "id.output" in env; numbers and expressions become
  /// scalar constants.
  std::optional<mlir::Value> resolve(Env &env, const std::string &ptr,
                                     const json &ref);

  // --- one node (NodeBuilder.cpp) -----------------------------------------
  /// The op of a node other than "call"; nullopt after reporting an error.
  std::optional<Bound> buildNode(Env &env, const std::string &ptr,
                                 const json &node,
                                 llvm::ArrayRef<mlir::Value> operands);

  // --- instances (ModuleInstances.cpp) -------------------------------------
  std::optional<Bound> instantiate(const std::string &moduleName,
                                   const JsonSource &callSrc,
                                   const std::string &callPtr,
                                   const std::string &path, const Args &args,
                                   llvm::ArrayRef<mlir::Value> inputs,
                                   const NetworkContext *network);
  std::optional<Bound> callNode(Env &env, const std::string &ptr,
                                const json &node,
                                llvm::ArrayRef<mlir::Value> inputs);

  /// Creates a source op (param, state, input, schedule) after the ones
  /// before it, ahead of every computing op: they read like a signature.
  template <typename OpTy, typename... Rest>
  OpTy createSource(mlir::Location loc, Rest &&...rest) {
    auto op = body.create<OpTy>(loc, std::forward<Rest>(rest)...);
    if (lastSource)
      op->moveAfter(lastSource);
    else
      op->moveBefore(&op->getBlock()->front());
    lastSource = op;
    return op;
  }
  mlir::Operation *lastSource = nullptr;

  mlir::MLIRContext &context;
  ImportOptions options;
  mlir::OpBuilder body; // ops in evaluation order (sources: createSource)
  std::vector<std::unique_ptr<JsonSource>> files;
  std::map<std::string, ModuleDef> modules;
  std::map<std::string, NetworkContext> networks;
  std::map<std::string, mlir::Value> params; // by full name: shared weights
  /// A module's state (running statistics) by full name: the value its
  /// next reader sees (the kiln.state, or the update of an earlier call of
  /// the same network in this step) and whether the step updates it.
  struct ModuleState {
    mlir::Value current;
    bool updated = false;
  };
  std::map<std::string, ModuleState> moduleState;
  bool updatesModuleState = true; // false in the evaluation entry
  /// The module calls being instantiated, outermost first: op locations
  /// and errors carry them (withCallers), and recursion is refused.
  struct CallSite {
    std::string module; // for a network's call node: the node's id
    const JsonSource *src;
    std::string pointer;
    std::string network = ""; // the network a call node calls, else empty
  };
  std::vector<CallSite> callSites;
  /// `loc` inside the chain of calls that led to it, innermost first
  /// (CallSiteLoc); a call containing (src, pointer) itself is left out.
  mlir::Location withCallers(mlir::Location loc, const JsonSource &src,
                             const std::string &pointer);
  Args globalArgs;
  std::set<std::string> graphArgNames; // the model file's `args`
  /// The data section with its views' numbers evaluated.
  json data;
  int64_t nextRandomStream = 0;
  /// Instance paths of calls with "checkpoint": true (kiln-recompute).
  std::set<std::string> checkpointed;

private:
  // GraphFiles.cpp
  bool loadFile(const std::string &path, const JsonSource *from,
                const std::string &fromPtr, bool library);
  // GraphSections.cpp
  bool importSections(const JsonSource &src, mlir::ModuleOp module);
  /// The evaluation entry (func.func @eval): the network named by
  /// train.eval on whole test images, returning its chosen output.
  bool importEval(const JsonSource &src, mlir::ModuleOp module);
  /// Every optimizer `groups` and `freeze` entry matches some trained
  /// parameter (else the nearest names are listed).
  bool checkParamPatterns(const JsonSource &src);
  /// train.precision names one, and train.loss_scale (fp16 only) holds
  /// settings GradScaler would accept.
  bool checkPrecision(const JsonSource &src);
  /// An objective input's source: a view of the data section whose
  /// [count·batch, C, size, size] is its shape, or the labels ([batch] i32).
  bool checkInputSource(const JsonSource &src, const std::string &p, const std::string &name,
                        const json &in, llvm::ArrayRef<int64_t> shape);
  // ModuleInstances.cpp
  mlir::Value createParam(const JsonSource &src, const std::string &ptr,
                          const std::string &name, const json &entry,
                          const Args &args, const NetworkContext *network);
  /// An init or schedule spec {"kind", keys...} as an attribute: its kind
  /// one of `kinds`, each key one that kind takes (else an error at the key,
  /// with the nearest), numbers and expressions evaluated; "doc" dropped.
  mlir::DictionaryAttr kindDict(const JsonSource &src, const std::string &ptr, const json &value,
                                const Args &args, const std::vector<DictKind> &kinds,
                                const std::string &what);
  /// A module instance's state entry `name`: created at its first instance,
  /// then read as the last update left it.
  mlir::Value moduleStateValue(const JsonSource &src, const std::string &ptr,
                               const std::string &name, const json &entry,
                               const Args &args, const NetworkContext *network);
  /// Records a module instance's "state_updates".
  bool updateModuleState(Env &env, const ModuleDef &mod, const json &def);
  /// One kiln.update_state per module state the step updated.
  bool emitModuleStateUpdates();
  /// The init of a source of `network` (params and module state alike):
  /// an EMA copy, a tensor of a frozen network's file, or `entry`'s init.
  mlir::DictionaryAttr sourceInit(const JsonSource &src, const std::string &ptr,
                                  const std::string &name, const json &entry,
                                  const Args &args, const NetworkContext *network,
                                  mlir::StringAttr *emaOf);
};

/// Attribute names of node ops that the importer does not know how to read
/// (empty when every kiln op can be written in JSON). For a consistency test.
std::vector<std::string> unreadableNodeAttributes(mlir::MLIRContext &context);

/// Converts plain JSON (data, optimizer, train sections) to an attribute.
mlir::Attribute jsonToAttr(mlir::MLIRContext &context, const json &value);

} // namespace kiln

#endif // KILN_IMPORT_IMPORTER_H
