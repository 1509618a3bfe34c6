//===- CudaDriver.cpp - the CUDA driver API, loaded at run time -----------===//
#include "runtime/cuda/CudaDriver.h"

#include <dlfcn.h>
#include <mutex>

namespace kiln {

const CudaDriver *CudaDriver::get(std::string &error) {
  static CudaDriver driver;
  static std::string loadError;
  static std::once_flag once;
  std::call_once(once, [] {
    void *lib = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
      loadError = std::string("no NVIDIA driver (libcuda.so.1): ") + dlerror();
      return;
    }
    auto load = [&](auto &fn, const char *name) {
      fn = reinterpret_cast<std::remove_reference_t<decltype(fn)>>(dlsym(lib, name));
      if (!fn && loadError.empty())
        loadError = std::string("the NVIDIA driver has no ") + name;
    };
    load(driver.moduleLoadDataEx, "cuModuleLoadDataEx");
    load(driver.moduleGetFunction, "cuModuleGetFunction");
    load(driver.moduleUnload, "cuModuleUnload");
    load(driver.launchKernel, "cuLaunchKernel");
    load(driver.getErrorString, "cuGetErrorString");
  });
  if (!loadError.empty()) {
    error = loadError;
    return nullptr;
  }
  return &driver;
}

std::string driverErrorString(CUresult r) {
  std::string error;
  const CudaDriver *d = CudaDriver::get(error);
  const char *text = nullptr;
  if (d)
    d->getErrorString(r, &text);
  return text ? text : "CUresult " + std::to_string(static_cast<int>(r));
}

} // namespace kiln
