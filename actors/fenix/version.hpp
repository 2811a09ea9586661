/// fenix's version, the same as project(fenix VERSION ...) in CMakeLists.txt
/// (the configure step fails if the two disagree).
///
///   std::cout << "fenix " << fenix::version() << '\n';   // "0.2.0"
#pragma once

#include <string_view>

#define FENIX_VERSION_MAJOR 0
#define FENIX_VERSION_MINOR 2
#define FENIX_VERSION_PATCH 0

namespace fenix {

/// "MAJOR.MINOR.PATCH".
constexpr std::string_view version() noexcept {
  return "0.2.0";
}

}  // namespace fenix
