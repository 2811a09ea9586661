#include "transport/serializer.hpp"

#include <cctype>

#include "transport/json_text.hpp"

namespace fenix {

const serializer& v1_json_serializer_instance();
const serializer& v2_json_serializer_instance();

const serializer& serializer_for(protocol_version v) {
  return v == protocol_version::v1 ? v1_json_serializer_instance()
                                   : v2_json_serializer_instance();
}

namespace {

// Parses "MAJOR.MINOR.PATCH" (with an optional -pre/+build suffix).
bool parse_semver(std::string_view s, int& major, int& minor) {
  int parts[3] = {-1, -1, -1};
  std::size_t i = 0;
  for (int p = 0; p < 3; ++p) {
    if (i >= s.size() || !std::isdigit(static_cast<unsigned char>(s[i])))
      return false;
    long v = 0;
    while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) {
      v = v * 10 + (s[i] - '0');
      if (v > 1'000'000)
        return false;
      ++i;
    }
    parts[p] = static_cast<int>(v);
    if (p < 2) {
      if (i >= s.size() || s[i] != '.')
        return false;
      ++i;
    }
  }
  if (i != s.size() && s[i] != '-' && s[i] != '+')
    return false;
  major = parts[0];
  minor = parts[1];
  return true;
}

} // namespace

const serializer* negotiate(std::string_view vsn) {
  if (vsn.empty())
    vsn = "1.0.0";
  int major = 0;
  int minor = 0;
  if (!parse_semver(vsn, major, minor))
    return nullptr;
  if (major == 1 && minor == 0)
    return &v1_json_serializer_instance();
  if (major == 2 && minor == 0)
    return &v2_json_serializer_instance();
  return nullptr;
}

namespace json_text {

void append_string(std::string& out, std::string_view s) {
  static constexpr char hex[] = "0123456789abcdef";
  out.push_back('"');
  for (char ch : s) {
    auto c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      default:
        if (c < 0x20) {
          out += "\\u00";
          out.push_back(hex[c >> 4]);
          out.push_back(hex[c & 0xf]);
        } else {
          out.push_back(ch);
        }
    }
  }
  out.push_back('"');
}

} // namespace json_text

} // namespace fenix
