# The optional CUDA library libranvier_cuda: its own shared library that registers CUDA kernels,
# the CUDA allocator and host<->device copies into the core's slots when Python loads it.
#
# RANVIER_CUDA: ON builds it (nvcc and cuBLAS required), OFF never, AUTO builds it when nvcc and
# cuBLAS are both found -- except under pip/scikit-build-core (SKBUILD), where AUTO means OFF so that the CPU install
# stays fast and free of NVIDIA packages. Ask for it with -Ccmake.define.RANVIER_CUDA=ON.
# Arch: CMAKE_CUDA_ARCHITECTURES (default 90). The CUDA runtime is linked statically, so the
# library loads on a machine without a driver and simply reports no device.
#
# cuBLAS comes from the `nvidia-cublas` wheel (CUDA 13 line): headers in
# site-packages/nvidia/cu13/include, only versioned libcublas.so.13 / libcublasLt.so.13 in
# nvidia/cu13/lib. RANVIER_CUBLAS_ROOT (the folder holding include/ and lib/) names it, or it is
# asked from the Python in use (its `nvidia` package, else the nvidia/ folder of its
# site-packages: under pip's build isolation the wheel is not importable but is on disk when it
# was installed beforehand). The library is an IMPORTED target on the versioned file; at run
# time the installed libranvier_cuda (site-packages/ranvier/lib) finds it through an
# $ORIGIN-relative rpath, and python/ranvier/cuda preloads it from the `nvidia` package.
set(RANVIER_CUBLAS_ROOT "" CACHE PATH
  "Folder with cuBLAS's include/ and lib/ (default: nvidia/cu13 of the nvidia-cublas wheel)")
set(RV_BUILD_CUDA OFF)

# Defines the IMPORTED target ranvier::cublas (libcublas.so.13, with libcublasLt.so.13 as its
# dependency and cuBLAS's include folder), or stops with a message saying how to get it. With
# the argument OPTIONAL it sets RV_CUBLAS_FOUND in the caller instead of stopping.
function(rv_find_cublas)
  if(TARGET ranvier::cublas)
    set(RV_CUBLAS_FOUND ON PARENT_SCOPE)
    return()
  endif()
  set(root "${RANVIER_CUBLAS_ROOT}")
  if(NOT root)
    if(NOT Python_EXECUTABLE)
      find_package(Python COMPONENTS Interpreter)
    endif()
    if(Python_EXECUTABLE)
      execute_process(
        COMMAND "${Python_EXECUTABLE}" -c
          "import os, sysconfig\ntry:\n import nvidia; d = list(nvidia.__path__)[0]\nexcept ImportError:\n d = os.path.join(sysconfig.get_paths()['purelib'], 'nvidia')\nprint(os.path.join(d, 'cu13'))"
        OUTPUT_VARIABLE root OUTPUT_STRIP_TRAILING_WHITESPACE
        RESULT_VARIABLE rc ERROR_QUIET)
      if(NOT rc EQUAL 0)
        set(root "")
      endif()
    endif()
  endif()
  find_path(RV_CUBLAS_INCLUDE_DIR cublas_v2.h HINTS "${root}/include" NO_DEFAULT_PATH)
  find_file(RV_CUBLAS_LIBRARY libcublas.so.13 HINTS "${root}/lib" NO_DEFAULT_PATH)
  find_file(RV_CUBLASLT_LIBRARY libcublasLt.so.13 HINTS "${root}/lib" NO_DEFAULT_PATH)
  if(NOT RV_CUBLAS_INCLUDE_DIR OR NOT RV_CUBLAS_LIBRARY OR NOT RV_CUBLASLT_LIBRARY)
    if(ARGV0 STREQUAL "OPTIONAL")
      set(RV_CUBLAS_FOUND OFF PARENT_SCOPE)
      return()
    endif()
    message(FATAL_ERROR "ranvier: the CUDA library needs cuBLAS from the nvidia-cublas wheel "
      "(looked in '${root}'). Install it into the Python in use (pip install \".[cuda]\" or "
      "pip install nvidia-cublas) or set RANVIER_CUBLAS_ROOT to a folder with include/ and lib/.")
  endif()
  add_library(ranvier::cublasLt SHARED IMPORTED GLOBAL)
  set_target_properties(ranvier::cublasLt PROPERTIES
    IMPORTED_LOCATION "${RV_CUBLASLT_LIBRARY}" IMPORTED_SONAME libcublasLt.so.13)
  add_library(ranvier::cublas SHARED IMPORTED GLOBAL)
  set_target_properties(ranvier::cublas PROPERTIES
    IMPORTED_LOCATION "${RV_CUBLAS_LIBRARY}" IMPORTED_SONAME libcublas.so.13
    INTERFACE_INCLUDE_DIRECTORIES "${RV_CUBLAS_INCLUDE_DIR}"
    INTERFACE_LINK_LIBRARIES ranvier::cublasLt)
  message(STATUS "ranvier: cuBLAS ${RV_CUBLAS_LIBRARY}")
  set(RV_CUBLAS_FOUND ON PARENT_SCOPE)
endfunction()

if(RANVIER_CUDA STREQUAL "ON")
  set(RV_BUILD_CUDA ON)
elseif(RANVIER_CUDA STREQUAL "AUTO" AND NOT SKBUILD)
  include(CheckLanguage)
  check_language(CUDA)
  if(CMAKE_CUDA_COMPILER)
    rv_find_cublas(OPTIONAL)
    if(RV_CUBLAS_FOUND)
      set(RV_BUILD_CUDA ON)
    else()
      message(STATUS "ranvier: nvcc found but not cuBLAS (the nvidia-cublas wheel): the CUDA "
        "library is not built (RANVIER_CUDA=ON asks for it and says what is missing)")
    endif()
  endif()
elseif(NOT RANVIER_CUDA STREQUAL "OFF" AND NOT RANVIER_CUDA STREQUAL "AUTO")
  message(FATAL_ERROR "RANVIER_CUDA must be AUTO, ON or OFF (got '${RANVIER_CUDA}')")
endif()

if(RV_BUILD_CUDA)
  if(NOT DEFINED CMAKE_CUDA_ARCHITECTURES)
    set(CMAKE_CUDA_ARCHITECTURES 90)
  endif()
  set(CMAKE_CUDA_RUNTIME_LIBRARY Static)
  set(CMAKE_CUDA_STANDARD 17)
  set(CMAKE_CUDA_STANDARD_REQUIRED ON)
  if(RANVIER_CCACHE AND NOT CMAKE_CUDA_COMPILER_LAUNCHER)
    set(CMAKE_CUDA_COMPILER_LAUNCHER ${RANVIER_CCACHE})
  endif()
  enable_language(CUDA)
  find_package(CUDAToolkit REQUIRED)
  message(STATUS "ranvier: building libranvier_cuda for CUDA arch ${CMAKE_CUDA_ARCHITECTURES}")

  file(GLOB RV_CUDA_SOURCES CONFIGURE_DEPENDS csrc/cuda/*.cu csrc/cuda/*.cpp
    csrc/kernels/cuda/*.cu csrc/kernels/cuda/*.cpp)
  add_library(ranvier_cuda SHARED ${RV_CUDA_SOURCES})
  rv_find_cublas()
  target_link_libraries(ranvier_cuda PRIVATE ranvier CUDA::cudart_static ranvier::cublas)
  # Every symbol resolved at link time (a missing kernel file is a link error, not a failed load).
  target_link_options(ranvier_cuda PRIVATE -Wl,--no-undefined)
  target_compile_options(ranvier_cuda PRIVATE
    $<$<COMPILE_LANGUAGE:CXX>:-Wall -Wextra -Wno-unused-parameter>)
  # Next to libranvier in the package's lib/ folder: found through $ORIGIN; cuBLAS from the
  # wheel's folder, site-packages/nvidia/cu13/lib (two levels up from ranvier/lib).
  set_target_properties(ranvier_cuda PROPERTIES
    INSTALL_RPATH "$ORIGIN;$ORIGIN/../../nvidia/cu13/lib"
    CUDA_RUNTIME_LIBRARY Static)
  install(TARGETS ranvier_cuda
    LIBRARY DESTINATION ${RV_LIB_DIR}
    RUNTIME DESTINATION ${RV_LIB_DIR})
endif()
