//===- ArtifactChecks.h - whether an artifact can run here ------*- C++ -*-===//
//
// Before anything is loaded: every file the manifest lists is there, whole
// and unmodified (size and CRC-32), and this CPU has the features its
// kernels were compiled for.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_RUNTIME_ARTIFACT_ARTIFACTCHECKS_H
#define KILN_RUNTIME_ARTIFACT_ARTIFACTCHECKS_H

#include "runtime/artifact/Manifest.h"

#include <string>

namespace kiln {

/// Whether the artifact in `dir`, whose manifest is `m`, can run here;
/// false with `error` naming the file and the problem.
bool checkArtifact(const std::string &dir, const Manifest &m, std::string &error);

/// Whether this CPU runs code compiled for `cpu` with `features`; else a
/// message naming what is missing.
bool cpuSupports(const std::string &cpu, const std::string &features, std::string &missing);

} // namespace kiln

#endif // KILN_RUNTIME_ARTIFACT_ARTIFACTCHECKS_H
