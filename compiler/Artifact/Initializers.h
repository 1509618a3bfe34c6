//===- Initializers.h - initial values of parameters and state ----*- C++ -*-===//
//
// Runs the `init` specs of kiln.param / kiln.state (zeros, ones, constant,
// normal, trunc_normal, uniform, fan_in_uniform, copy, file) in double and
// rounds to f32. Each tensor draws from its own generator seeded by the
// run seed and its name, so adding a parameter changes no other's values.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_ARTIFACT_INITIALIZERS_H
#define KILN_ARTIFACT_INITIALIZERS_H

#include "mlir/IR/BuiltinAttributes.h"
#include "llvm/ADT/ArrayRef.h"

#include <map>
#include <string>
#include <vector>

namespace kiln {

/// Writes the initial values of a tensor named `name` of `count` elements
/// to `out` (zeros on entry). Random draws come from a stream of the
/// tensor's own (seeded by `seed` and `name`), so tensors can be filled in
/// any order or in parallel. `copy` reads `ready` (tensors already
/// computed); `file` reads a safetensors file relative to `baseDir`. False
/// with `error` set.
bool initialValues(mlir::DictionaryAttr init, const std::string &name, int64_t count,
                   const std::vector<int64_t> &shape, uint64_t seed,
                   const std::string &baseDir,
                   const std::map<std::string, llvm::ArrayRef<float>> &ready, float *out,
                   std::string &error);

} // namespace kiln

#endif // KILN_ARTIFACT_INITIALIZERS_H
