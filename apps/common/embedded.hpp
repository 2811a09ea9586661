/// The apps' web pages compiled into the binary: each app's executable
/// carries a generated table (cmake/fenixEmbed.cmake, from apps/APP/static
/// and the official phoenix.mjs) that registers itself at start-up.
#pragma once

#include <cstddef>
#include <string_view>

namespace fenix::apps {

struct embedded_file {
  const char* path;  // as under /assets/: "index.html", "phoenix.mjs"
  const char* mime;
  const unsigned char* data;
  std::size_t size;
};

/// Called by the generated table; returns true.
bool register_embedded(std::string_view app, const embedded_file* files,
                       std::size_t count);

/// The embedded file `path` of `app`, or null.
const embedded_file* find_embedded(std::string_view app, std::string_view path);

}  // namespace fenix::apps
