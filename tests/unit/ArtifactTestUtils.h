//===- ArtifactTestUtils.h - artifacts and batches for runtime tests -*- C++ -*-===//
#ifndef KILN_TESTS_ARTIFACTTESTUTILS_H
#define KILN_TESTS_ARTIFACTTESTUTILS_H

#include "compiler/Artifact/ArtifactWriter.h"
#include "runtime/data/Dataset.h"
#include "runtime/exec/Executor.h"

#include <nlohmann/json.hpp>

#include <string>

namespace kiln::test {

/// The graph at `path` (relative to the source tree), its `train` section
/// updated with `train` and then the whole graph merge-patched with
/// `patch` (RFC 7386), compiled to a fresh artifact directory; "" with
/// `error` when it does not compile.
std::string compileArtifact(const std::string &path, const nlohmann::json &train,
                            const ArtifactOptions &options, std::string &error,
                            const nlohmann::json &patch = nullptr);

/// The first batch of `dataset` in `exec`'s train_step inputs, and the
/// schedule values of step 0.
void feedFirstBatch(Executor &exec, const data::Dataset &dataset);

} // namespace kiln::test

#endif // KILN_TESTS_ARTIFACTTESTUTILS_H
