# Optional features, detected at configure time and reported in one summary.
# A missing feature never fails the configure step: the code that needs it is
# not built and its tests skip with a reason.

set(KILN_FEATURES "")
# kiln_feature(NAME FOUND DETAIL HINT): record one line of the summary.
function(kiln_feature name found detail hint)
  if(${found})
    set(line "  [x] ${name}: ${detail}")
  else()
    set(line "  [ ] ${name}: not found (${hint})")
  endif()
  set(KILN_FEATURES "${KILN_FEATURES}${line}\n" PARENT_SCOPE)
endfunction()

# CUDA toolkit, cuBLAS, cuDNN and NCCL (here in /usr/local/cuda).
list(APPEND CMAKE_PREFIX_PATH /usr/local/cuda)
find_package(CUDAToolkit QUIET)
set(KILN_HAVE_CUDA ${CUDAToolkit_FOUND})
set(KILN_HAVE_CUBLAS OFF)
if(TARGET CUDA::cublas)
  set(KILN_HAVE_CUBLAS ON)
endif()
# kiln_find_in_cuda(NAME HEADER LIBRARY): KILN_<NAME>_INCLUDE, _LIBRARY and
# KILN_HAVE_<NAME> for a library installed beside the toolkit.
function(kiln_find_in_cuda name header library)
  find_path(KILN_${name}_INCLUDE ${header} HINTS ${CUDAToolkit_INCLUDE_DIRS} /usr/local/cuda/include)
  find_library(KILN_${name}_LIBRARY ${library} HINTS ${CUDAToolkit_LIBRARY_DIR} /usr/local/cuda/lib64)
  if(KILN_${name}_INCLUDE AND KILN_${name}_LIBRARY)
    set(KILN_HAVE_${name} ON PARENT_SCOPE)
  else()
    set(KILN_HAVE_${name} OFF PARENT_SCOPE)
  endif()
endfunction()
kiln_find_in_cuda(NCCL nccl.h nccl)
kiln_find_in_cuda(CUDNN cudnn.h cudnn)
find_program(KILN_PTXAS ptxas HINTS /usr/local/cuda/bin)

# Open MPI.
find_package(MPI QUIET COMPONENTS C)
set(KILN_HAVE_MPI ${MPI_C_FOUND})

# CPU GEMM libraries.
find_library(KILN_OPENBLAS_LIBRARY NAMES openblas)
find_path(KILN_OPENBLAS_INCLUDE cblas.h PATH_SUFFIXES openblas)
set(KILN_HAVE_OPENBLAS OFF)
if(KILN_OPENBLAS_LIBRARY AND KILN_OPENBLAS_INCLUDE)
  set(KILN_HAVE_OPENBLAS ON)
endif()
find_library(KILN_DNNL_LIBRARY NAMES dnnl)
find_path(KILN_DNNL_INCLUDE oneapi/dnnl/dnnl.h)
set(KILN_HAVE_DNNL OFF)
if(KILN_DNNL_LIBRARY AND KILN_DNNL_INCLUDE)
  # The convolutions use oneDNN 2's descriptor API and its OpenMP threading
  # (Debian 12's 2.6); anything else falls back to im2col.
  file(STRINGS ${KILN_DNNL_INCLUDE}/oneapi/dnnl/dnnl_version.h KILN_DNNL_MAJOR
       REGEX "#define DNNL_VERSION_MAJOR")
  string(REGEX MATCH "[0-9]+" KILN_DNNL_MAJOR "${KILN_DNNL_MAJOR}")
  find_package(OpenMP QUIET)
  if(KILN_DNNL_MAJOR EQUAL 2 AND OpenMP_CXX_FOUND)
    set(KILN_HAVE_DNNL ON)
  endif()
endif()

# zlib: the Fashion-MNIST IDX files ship gzipped; artifacts and snapshots
# carry its CRC-32s.
find_package(ZLIB REQUIRED)

# Image data: decoders for JPEG, PNG and WebP, and tar shards. Each is an
# imported target PkgConfig::KILN_<NAME>; data in a format whose library is
# missing is refused with the package to install.
find_package(PkgConfig QUIET)
foreach(lib "TURBOJPEG libturbojpeg" "PNG libpng16" "WEBP libwebp" "ARCHIVE libarchive")
  string(REPLACE " " ";" lib "${lib}")
  list(GET lib 0 name)
  list(GET lib 1 module)
  set(KILN_HAVE_${name} OFF)
  if(PKG_CONFIG_FOUND)
    pkg_check_modules(KILN_${name} QUIET IMPORTED_TARGET ${module})
    set(KILN_HAVE_${name} ${KILN_${name}_FOUND})
  endif()
endforeach()

kiln_feature("CUDA toolkit" KILN_HAVE_CUDA "${CUDAToolkit_VERSION} in ${CUDAToolkit_BIN_DIR}"
  "install CUDA 13 in /usr/local/cuda")
kiln_feature("cuBLAS" KILN_HAVE_CUBLAS "${CUDAToolkit_LIBRARY_DIR}" "ships with the CUDA toolkit")
kiln_feature("NCCL" KILN_HAVE_NCCL "${KILN_NCCL_LIBRARY}" "install NCCL into /usr/local/cuda")
kiln_feature("cuDNN" KILN_HAVE_CUDNN "${KILN_CUDNN_LIBRARY}" "install cuDNN 9 into /usr/local/cuda")
kiln_feature("ptxas" KILN_PTXAS "${KILN_PTXAS}" "ships with the CUDA toolkit")
kiln_feature("Open MPI" KILN_HAVE_MPI "${MPI_C_LIBRARIES}" "apt-get install libopenmpi-dev openmpi-bin")
kiln_feature("OpenBLAS" KILN_HAVE_OPENBLAS "${KILN_OPENBLAS_LIBRARY}" "apt-get install libopenblas-dev")
kiln_feature("oneDNN" KILN_HAVE_DNNL "${KILN_DNNL_LIBRARY}" "apt-get install libdnnl-dev")
kiln_feature("TurboJPEG" KILN_HAVE_TURBOJPEG "${KILN_TURBOJPEG_VERSION}" "apt-get install libturbojpeg0-dev")
kiln_feature("libpng" KILN_HAVE_PNG "${KILN_PNG_VERSION}" "apt-get install libpng-dev")
kiln_feature("libwebp" KILN_HAVE_WEBP "${KILN_WEBP_VERSION}" "apt-get install libwebp-dev")
kiln_feature("libarchive" KILN_HAVE_ARCHIVE "${KILN_ARCHIVE_VERSION}" "apt-get install libarchive-dev")

function(kiln_print_feature_summary)
  if(KILN_RUNTIME_ONLY)
    set(mode "runtime only (no MLIR/LLVM)")
  else()
    set(mode "compiler + runtime (MLIR ${LLVM_PACKAGE_VERSION})")
  endif()
  message(STATUS "kiln build: ${mode}\nkiln optional features:\n${KILN_FEATURES}")
endfunction()
