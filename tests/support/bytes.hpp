// Test support: byte strings written as small integers plus a text tail,
// for frames given byte by byte.
#pragma once

#include <initializer_list>
#include <string>
#include <string_view>

namespace fenix::test {

inline std::string bytes(std::initializer_list<int> head,
                         std::string_view tail = {}) {
  std::string out;
  for (int b : head)
    out.push_back(static_cast<char>(static_cast<unsigned char>(b)));
  out.append(tail);
  return out;
}

}  // namespace fenix::test
