// Test support for the serializer tests: the two serializers, and decodes
// that must succeed or must be refused (Catch2 assertions inside).
#pragma once

#include <catch2/catch.hpp>

#include <string>
#include <string_view>
#include <variant>

#include "fenix/protocol/serializer.hpp"

namespace fenix::test {

inline const protocol::serializer& v1() {
  return protocol::serializer_for(protocol::protocol_version::v1);
}

inline const protocol::serializer& v2() {
  return protocol::serializer_for(protocol::protocol_version::v2);
}

inline protocol::message decode_ok(const protocol::serializer& s,
                                   std::string_view data, bool binary = false) {
  auto r = s.decode(data, binary);
  if (auto* err = std::get_if<protocol::decode_error>(&r))
    FAIL("unexpected decode_error: " << err->what);
  return std::get<protocol::message>(std::move(r));
}

// Decodes input that must be refused; never throws.
inline std::string decode_err(const protocol::serializer& s,
                              std::string_view data, bool binary = false) {
  protocol::decode_result r;
  CHECK_NOTHROW(r = s.decode(data, binary));
  if (!std::holds_alternative<protocol::decode_error>(r))
    FAIL("decoded malformed input: " << data);
  auto what = std::get<protocol::decode_error>(r).what;
  CHECK_FALSE(what.empty());
  return what;
}

}  // namespace fenix::test
