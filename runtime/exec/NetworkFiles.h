//===- NetworkFiles.h - a frozen network's weights, read at train time -*- C++ -*-===//
//
// A frozen network with `init_from` (a distillation teacher) takes its
// weights from a file that another run writes, so the compiler does not
// read it: the artifact has zeros there, and the runtime reads the file
// before the first step. Compiling the student therefore never waits on
// the teacher's training.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_RUNTIME_EXEC_NETWORKFILES_H
#define KILN_RUNTIME_EXEC_NETWORKFILES_H

#include "runtime/exec/Executor.h"

#include <set>
#include <string>

namespace kiln {

/// Copies each `init_from` network's parameters and module state from its
/// file (tensor PREFIX + the name without the network), but the networks
/// in `given` (the caller's --init-from). False with `error` naming the
/// graph's place (file:line:col /networks/N/init_from), the file, the
/// problem, and how to make the file.
bool loadNetworkFiles(Executor &exec, const std::set<std::string> &given, std::string &error);

/// Reads a run's parameters (params.safetensors: every network's
/// parameters and module state, prefixed) into `exec`. Every one of the
/// model's must be there unless `allowPartial`, and nothing else; false
/// with `error` naming what is not the model's (with a hint when the names
/// lack the network prefix, as kiln export writes them) or what is missing.
bool loadRunParams(Executor &exec, const std::string &path, bool allowPartial,
                   std::string &error);

/// The networks that read their weights from a file.
std::set<std::string> networksWithFiles(const Manifest &m);

} // namespace kiln

#endif // KILN_RUNTIME_EXEC_NETWORKFILES_H
