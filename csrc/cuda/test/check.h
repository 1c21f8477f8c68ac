// The failure counter and CHECK macro of the host-side CUDA math tests (csrc/cuda/test/*.cu,
// each its own program): CHECK(cond) or CHECK(cond, "format", args...) prints the line, the
// condition and the optional message for the first 20 failures and counts every one; main()
// returns failures != 0.
#pragma once
#include <cstdio>

static int failures = 0;

#define CHECK(cond, ...)                                                \
  do {                                                                  \
    if (!(cond)) {                                                      \
      if (failures < 20) {                                              \
        std::printf("FAIL line %d: %s ", __LINE__, #cond);              \
        std::printf("" __VA_ARGS__);                                    \
        std::printf("\n");                                              \
      }                                                                 \
      ++failures;                                                       \
    }                                                                   \
  } while (0)
