//===- Initializers.cpp - initial values of parameters and state ----------===//
#include "compiler/Artifact/Initializers.h"

#include "runtime/artifact/Safetensors.h"

#include <cmath>
#include <cstring>
#include <random>

using namespace mlir;

namespace kiln {
namespace {

/// FNV-1a: a stable hash of the tensor name for its generator's seed.
uint64_t hashName(const std::string &s) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : s)
    h = (h ^ c) * 1099511628211ull;
  return h;
}

/// Uniform [0, 1) and standard normal draws, the same on every platform
/// (std::normal_distribution is not).
struct Draws {
  std::mt19937_64 rng;
  double uniform() { return (rng() >> 11) * 0x1.0p-53; }
  double normal() {
    double u1 = uniform(), u2 = uniform();
    return std::sqrt(-2.0 * std::log(1.0 - u1)) * std::cos(2.0 * M_PI * u2);
  }
};

double number(DictionaryAttr init, StringRef key, double fallback) {
  if (auto f = init.getAs<FloatAttr>(key))
    return f.getValueAsDouble();
  if (auto i = init.getAs<IntegerAttr>(key))
    return static_cast<double>(i.getInt());
  return fallback;
}

} // namespace

bool initialValues(DictionaryAttr init, const std::string &name, int64_t count,
                   const std::vector<int64_t> &shape, uint64_t seed,
                   const std::string &baseDir,
                   const std::map<std::string, llvm::ArrayRef<float>> &ready, float *out,
                   std::string &error) {
  std::string kind = init.getAs<StringAttr>("kind").getValue().str();
  Draws d{std::mt19937_64(seed ^ hashName(name))};
  llvm::MutableArrayRef<float> values(out, count);
  if (kind == "zeros")
    return true;
  if (kind == "ones" || kind == "constant") {
    std::fill(values.begin(), values.end(), kind == "ones" ? 1.0f : (float)number(init, "value", 0));
    return true;
  }
  if (kind == "normal" || kind == "trunc_normal") {
    double mean = number(init, "mean", 0.0), std = number(init, "std", 1.0);
    double a = number(init, "a", -2.0), b = number(init, "b", 2.0);
    for (float &v : values) {
      double x = mean + std * d.normal();
      while (kind == "trunc_normal" && (x < a || x > b)) // absolute bounds, as timm/DINO
        x = mean + std * d.normal();
      v = static_cast<float>(x);
    }
    return true;
  }
  if (kind == "uniform" || kind == "fan_in_uniform") {
    double bound = kind == "fan_in_uniform" ? 1.0 / std::sqrt(number(init, "fan_in", 1.0)) : 0;
    double lo = kind == "uniform" ? number(init, "low", 0.0) : -bound;
    double hi = kind == "uniform" ? number(init, "high", 1.0) : bound;
    for (float &v : values)
      v = static_cast<float>(lo + (hi - lo) * d.uniform());
    return true;
  }
  if (kind == "copy") {
    std::string from = init.getAs<StringAttr>("from").getValue().str();
    auto it = ready.find(from);
    if (it == ready.end() || (int64_t)it->second.size() != count) {
      error = "parameter '" + name + "' copies '" + from + "', which has no initial value of its size";
      return false;
    }
    std::copy(it->second.begin(), it->second.end(), out);
    return true;
  }
  if (kind == "network_file") // kiln train reads it (runtime/exec/NetworkFiles.h)
    return true;
  if (kind == "file") {
    std::string path = init.getAs<StringAttr>("path").getValue().str();
    std::string tensor = init.getAs<StringAttr>("tensor").getValue().str();
    if (!path.empty() && path[0] != '/')
      path = (baseDir.empty() ? "." : baseDir) + "/" + path; // beside the graph file
    TensorMap tensors;
    if (!readSafetensors(path, tensors, error))
      return false;
    auto it = tensors.find(tensor);
    if (it == tensors.end() || dtypeFromSafetensors(it->second.dtype) != DType::F32 || it->second.shape != shape) {
      error = path + ": no F32 tensor '" + tensor + "' of the shape parameter '" + name + "' has";
      return false;
    }
    std::memcpy(out, it->second.data.data(), count * 4);
    return true;
  }
  error = "unknown init kind '" + kind + "' for '" + name + "'";
  return false;
}

} // namespace kiln
