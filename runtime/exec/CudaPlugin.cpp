//===- CudaPlugin.cpp - the CUDA backend, loaded when a GPU is asked for --===//
//
// The backend and the CUDA libraries it links (cudart, cuBLAS, NCCL: over
// half a second to load) live in libkiln-cuda.so beside the kiln binary,
// opened only by a run that asks for a GPU; CPU runs and builds without
// CUDA never touch them.
//
//===----------------------------------------------------------------------===//
#include "runtime/exec/DeviceBackend.h"

#include <dlfcn.h>
#include <filesystem>

namespace kiln {

std::unique_ptr<DeviceBackend> openCudaBackend(const std::string &dir, const Manifest &m,
                                               int device, const uint8_t *persistent,
                                               DeviceHooks hooks, std::string &error) {
#ifndef KILN_CUDA_PLUGIN
  error = "this kiln was built without CUDA (no toolkit with cuBLAS in /usr/local/cuda at "
          "configure time): it runs on the CPU only";
  return nullptr;
#else
  if (m.cudaArchs.empty()) {
    error = dir + " has no GPU kernels: compile it with kiln compile --target=cuda";
    return nullptr;
  }
  std::error_code ec;
  std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe", ec);
  std::string tried;
  void *lib = nullptr;
  for (std::string path : {(self.parent_path() / "libkiln-cuda.so").string(),
                           std::string(KILN_CUDA_PLUGIN)}) {
    if ((lib = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL)))
      break;
    tried += std::string("\n  ") + dlerror();
  }
  if (!lib) {
    error = "cannot load the CUDA backend (libkiln-cuda.so):" + tried;
    return nullptr;
  }
  using Open = DeviceBackend *(const std::string &, const Manifest &, int, const uint8_t *,
                               DeviceHooks, std::string &);
  auto open = reinterpret_cast<Open *>(dlsym(lib, "kilnOpenCudaBackend"));
  if (!open) {
    error = "libkiln-cuda.so has no kilnOpenCudaBackend";
    return nullptr;
  }
  return std::unique_ptr<DeviceBackend>(open(dir, m, device, persistent, std::move(hooks), error));
#endif
}

} // namespace kiln
