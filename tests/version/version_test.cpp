// fenix/version.hpp agrees with project(fenix VERSION ...).

#include <catch2/catch.hpp>

#include <string>

#include "fenix/fenix.hpp"
#include "fenix/version.hpp"

TEST_CASE("version() is the CMake project version") {
  CHECK(fenix::version() == FENIX_PROJECT_VERSION);
  auto parts = std::to_string(FENIX_VERSION_MAJOR) + "."
               + std::to_string(FENIX_VERSION_MINOR) + "."
               + std::to_string(FENIX_VERSION_PATCH);
  CHECK(parts == FENIX_PROJECT_VERSION);
  static_assert(fenix::version().size() >= 5);
}
