# Build options shared by every folder. Defined once here.

option(STRATA_BUILD_TESTS "Build the GoogleTest suites" ON)
option(STRATA_BUILD_BENCH "Build the benchmarks in bench/" ON)
option(STRATA_SANITIZE "Build with AddressSanitizer and UndefinedBehaviorSanitizer" OFF)
option(STRATA_FUZZ "Link fuzz targets with libFuzzer (clang only); otherwise they replay a corpus" OFF)
set(STRATA_CUDA "AUTO" CACHE STRING "CUDA support: AUTO (when the toolkit is found), ON, OFF")

# A portable x86-64 build: the baseline is plain x86-64; AVX2 and AVX-512 kernels are compiled
# per file with their own flags and chosen at run time from the CPU's features.
if(CMAKE_SYSTEM_PROCESSOR MATCHES "x86_64|AMD64")
  set(STRATA_X86 ON)
else()
  set(STRATA_X86 OFF)
endif()

add_compile_options(-Wall -Wextra -Wno-unused-parameter)

if(STRATA_SANITIZE)
  add_compile_options(-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer)
  add_link_options(-fsanitize=address,undefined)
endif()

# CUDA is optional: detected, never required.
set(STRATA_HAVE_CUDA OFF)
if(NOT STRATA_CUDA STREQUAL "OFF")
  include(CheckLanguage)
  if(NOT CMAKE_CUDA_COMPILER AND EXISTS /usr/local/cuda/bin/nvcc)
    set(CMAKE_CUDA_COMPILER /usr/local/cuda/bin/nvcc)
  endif()
  check_language(CUDA)
  if(CMAKE_CUDA_COMPILER)
    set(STRATA_HAVE_CUDA ON)
  elseif(STRATA_CUDA STREQUAL "ON")
    message(FATAL_ERROR "STRATA_CUDA=ON but no CUDA compiler was found")
  endif()
endif()
message(STATUS "strata: CUDA ${STRATA_HAVE_CUDA}, sanitizers ${STRATA_SANITIZE}, fuzz ${STRATA_FUZZ}")
