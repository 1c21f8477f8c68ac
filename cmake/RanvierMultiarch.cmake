# Kernels that pay for wider SIMD are compiled three times (baseline x86-64, AVX2+FMA,
# AVX-512) from the same source; csrc/kernels/cpu/cpu_features.cpp picks one at run time.
# Each source under csrc/kernels/cpu/simd/ is built with RV_SIMD_LEVEL set to 0, 1 or 2 and
# must put its symbols in the namespace RV_SIMD_NS (see kernels/cpu/simd_level.h).
function(ranvier_multiarch_kernels target)
  file(GLOB _srcs CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/csrc/kernels/cpu/simd/*.cpp)
  set(_levels "0" "1" "2")
  set(_flags_0 "")
  set(_flags_1 "-mavx2;-mfma;-mf16c")
  set(_flags_2 "-mavx512f;-mavx512bw;-mavx512vl;-mavx512dq;-mavx2;-mfma;-mf16c;-mprefer-vector-width=512")
  foreach(_lvl IN LISTS _levels)
    set(_lib ${target}_simd${_lvl})
    add_library(${_lib} OBJECT ${_srcs})
    target_include_directories(${_lib} PRIVATE ${PROJECT_SOURCE_DIR}/csrc)
    target_compile_definitions(${_lib} PRIVATE RV_SIMD_LEVEL=${_lvl})
    # no-trapping-math / no-math-errno: branch-free selects and sqrt vectorise (vec_math.h)
    target_compile_options(${_lib} PRIVATE ${_flags_${_lvl}} -fno-trapping-math -fno-math-errno
                           -Wall -Wno-unused-parameter)
    if(RANVIER_OPENMP)
      target_link_libraries(${_lib} PRIVATE OpenMP::OpenMP_CXX)
    endif()
    target_sources(${target} PRIVATE $<TARGET_OBJECTS:${_lib}>)
  endforeach()
endfunction()
