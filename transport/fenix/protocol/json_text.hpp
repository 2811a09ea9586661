/// Internal: small helpers to write JSON text by hand, so that frames are
/// built in one string without an intermediate json::array.
#pragma once

#include <string>
#include <string_view>

#include <boost/json/value.hpp>

#include "fenix/protocol/json.hpp"
#include "fenix/protocol/message.hpp"

namespace fenix::protocol::json_text {

/// Appends `s` as a quoted, escaped JSON string.
void append_string(std::string& out, std::string_view s);

/// Appends a string or `null`.
inline void append_opt(std::string& out, const opt_string& s) {
  if (s)
    append_string(out, *s);
  else
    out += "null";
}

/// Appends a JSON value that sits `wrapper` levels deep in its frame.
/// Throws std::domain_error on a non-finite number, or if the frame would
/// be deeper than json_max_depth (nobody could decode it).
inline void append_value(std::string& out, const json::value& v,
                         std::size_t wrapper) {
  append_json(out, v, json_max_depth - wrapper);
}

}  // namespace fenix::protocol::json_text
