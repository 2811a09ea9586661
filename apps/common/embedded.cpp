#include "apps/common/embedded.hpp"

#include <map>
#include <string>
#include <utility>

namespace fenix::apps {

namespace {

using table =
  std::map<std::string, std::pair<const embedded_file*, std::size_t>,
           std::less<>>;

table& tables() {
  static table t;  // filled during static initialization
  return t;
}

}  // namespace

bool register_embedded(std::string_view app, const embedded_file* files,
                       std::size_t count) {
  tables()[std::string{app}] = {files, count};
  return true;
}

const embedded_file* find_embedded(std::string_view app,
                                   std::string_view path) {
  auto i = tables().find(app);
  if (i == tables().end())
    return nullptr;
  for (std::size_t k = 0; k < i->second.second; ++k)
    if (path == i->second.first[k].path)
      return &i->second.first[k];
  return nullptr;
}

}  // namespace fenix::apps
