//===- CompilerProcess.h - the compiler as a separate process -----*- C++ -*-===//
//
// `kiln` links the runtime only, so a training process carries none of
// MLIR and LLVM (about 60 MB of resident memory). Compiling is done by
// kiln-compile, built beside it: `kiln compile` execs it, and
// `kiln train MODEL.json` runs it and waits.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_TOOLS_COMPILERPROCESS_H
#define KILN_TOOLS_COMPILERPROCESS_H

#include <string>
#include <vector>

namespace kiln {

/// kiln-compile in this executable's directory.
std::string compilerPath();

/// Runs `program` (searched on PATH unless it holds a '/') with `args`, no
/// shell between, and returns its exit status (128 + the signal if one
/// ended it); -1 with `error` when it cannot start.
int runProcess(const std::string &program, const std::vector<std::string> &args,
               std::string &error);

/// Runs kiln-compile with `args` (its diagnostics go to this stderr) and
/// returns its exit status; 127 with a message when it cannot start.
int runCompiler(const std::vector<std::string> &args);

/// Whether an output path names an artifact directory (ends in ".kiln").
inline bool isArtifactPath(const std::string &path) {
  return path.size() > 5 && path.compare(path.size() - 5, 5, ".kiln") == 0;
}

} // namespace kiln

#endif // KILN_TOOLS_COMPILERPROCESS_H
