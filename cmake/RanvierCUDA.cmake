# The optional CUDA library libranvier_cuda: its own shared library that registers CUDA kernels,
# the CUDA allocator and host<->device copies into the core's slots when Python loads it.
#
# RANVIER_CUDA: ON builds it (nvcc required), OFF never, AUTO builds it when nvcc is found --
# except under pip/scikit-build-core (SKBUILD), where AUTO means OFF so that the CPU install
# stays fast and free of NVIDIA packages. Ask for it with -Ccmake.define.RANVIER_CUDA=ON.
# Arch: CMAKE_CUDA_ARCHITECTURES (default 90). The CUDA runtime is linked statically, so the
# library loads on a machine without a driver and simply reports no device.
set(RV_BUILD_CUDA OFF)
if(RANVIER_CUDA STREQUAL "ON")
  set(RV_BUILD_CUDA ON)
elseif(RANVIER_CUDA STREQUAL "AUTO" AND NOT SKBUILD)
  include(CheckLanguage)
  check_language(CUDA)
  if(CMAKE_CUDA_COMPILER)
    set(RV_BUILD_CUDA ON)
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
  target_link_libraries(ranvier_cuda PRIVATE ranvier CUDA::cudart_static)
  target_compile_options(ranvier_cuda PRIVATE
    $<$<COMPILE_LANGUAGE:CXX>:-Wall -Wextra -Wno-unused-parameter>)
  # Next to libranvier in the package's lib/ folder: found through $ORIGIN.
  set_target_properties(ranvier_cuda PROPERTIES
    INSTALL_RPATH "$ORIGIN"
    CUDA_RUNTIME_LIBRARY Static)
  install(TARGETS ranvier_cuda
    LIBRARY DESTINATION ${RV_LIB_DIR}
    RUNTIME DESTINATION ${RV_LIB_DIR})
endif()
