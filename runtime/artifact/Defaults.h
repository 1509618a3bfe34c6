//===- Defaults.h - defaults the compiler and the runtime share -*- C++ -*-===//
//
// Plain constants (no MLIR): the compiler's passes and command line and the
// runtime's command line read the same values from here.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_ARTIFACT_DEFAULTS_H
#define KILN_ARTIFACT_DEFAULTS_H

#include <cstdint>

namespace kiln {

/// Bytes per gradient all-reduce bucket: PyTorch DDP's bucket_cap_mb = 25.
constexpr int64_t kDefaultBucketBytes = 25 << 20;
/// The first bucket (the last layers' gradients, ready first) is small, as
/// DDP's 1 MiB first bucket, so that communication starts early.
constexpr int64_t kDefaultFirstBucketBytes = 1 << 20;

} // namespace kiln

#endif // KILN_ARTIFACT_DEFAULTS_H
