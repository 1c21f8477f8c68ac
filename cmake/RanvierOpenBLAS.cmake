# Finds the OpenBLAS build shipped by the scipy-openblas32 wheel (symbols prefixed scipy_).
# Sets RV_OPENBLAS_LIBRARY (the .so that is copied into the package) and OpenBLAS::OpenBLAS.
if(NOT RV_OPENBLAS_DIR)
  find_package(Python COMPONENTS Interpreter REQUIRED)
  execute_process(
    COMMAND ${Python_EXECUTABLE} -c "import scipy_openblas32 as s; print(s.get_lib_dir())"
    OUTPUT_VARIABLE RV_OPENBLAS_DIR OUTPUT_STRIP_TRAILING_WHITESPACE RESULT_VARIABLE _rv_ob_rc)
  if(NOT _rv_ob_rc EQUAL 0)
    message(FATAL_ERROR "ranvier needs the scipy-openblas32 package at build time: pip install scipy-openblas32")
  endif()
endif()
find_package(OpenBLAS CONFIG REQUIRED PATHS ${RV_OPENBLAS_DIR}/cmake/openblas NO_DEFAULT_PATH)
get_target_property(RV_OPENBLAS_LIBRARY OpenBLAS::OpenBLAS IMPORTED_LOCATION)
message(STATUS "ranvier: OpenBLAS from ${RV_OPENBLAS_LIBRARY}")
