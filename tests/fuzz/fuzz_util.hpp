// Helpers shared by the fuzz harnesses.
#pragma once

#include <cstdio>
#include <cstdlib>

// A failed property aborts, so libFuzzer records the input as a crash
// (unlike assert(), it cannot be compiled out).
#define FUZZ_CHECK(cond)                                                       \
  do {                                                                         \
    if (!(cond)) {                                                             \
      std::fprintf(stderr, "%s:%d: FUZZ_CHECK failed: %s\n", __FILE__,         \
                   __LINE__, #cond);                                           \
      std::abort();                                                            \
    }                                                                          \
  } while (false)
