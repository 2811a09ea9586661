#include "fenix/protocol/serializer.hpp"

#include "fenix/protocol/json_text.hpp"

namespace fenix::protocol {

const serializer& v1_json_serializer_instance();
const serializer& v2_json_serializer_instance();

const serializer& serializer_for(protocol_version v) {
  return v == protocol_version::v1 ? v1_json_serializer_instance()
                                   : v2_json_serializer_instance();
}

namespace {

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

bool is_ident_char(char c) {
  return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
         || c == '-';
}

// A SemVer number: digits without a leading zero.
bool parse_number(std::string_view s, std::size_t& i, long& out) {
  auto start = i;
  out = 0;
  while (i < s.size() && is_digit(s[i])) {
    if (i - start > 9)
      return false;
    out = out * 10 + (s[i] - '0');
    ++i;
  }
  auto len = i - start;
  return len > 0 && !(len > 1 && s[start] == '0');
}

// Dot-separated non-empty identifiers; numeric ones without leading zeros
// when `numeric_rule` (pre-release) is set.
bool parse_idents(std::string_view s, bool numeric_rule) {
  if (s.empty())
    return false;
  std::size_t start = 0;
  for (;;) {
    auto dot = s.find('.', start);
    auto part =
      s.substr(start, dot == std::string_view::npos ? std::string_view::npos
                                                    : dot - start);
    if (part.empty())
      return false;
    bool all_digits = true;
    for (char c : part) {
      if (!is_ident_char(c))
        return false;
      all_digits = all_digits && is_digit(c);
    }
    if (numeric_rule && all_digits && part.size() > 1 && part[0] == '0')
      return false;
    if (dot == std::string_view::npos)
      return true;
    start = dot + 1;
  }
}

// "MAJOR.MINOR.PATCH[-pre][+build]" as Elixir's Version parses it.
struct semver {
  long major = 0;
  long minor = 0;
  long patch = 0;
  bool pre = false;
};

bool parse_semver(std::string_view s, semver& v) {
  std::size_t i = 0;
  if (!parse_number(s, i, v.major) || i >= s.size() || s[i++] != '.')
    return false;
  if (!parse_number(s, i, v.minor) || i >= s.size() || s[i++] != '.')
    return false;
  if (!parse_number(s, i, v.patch))
    return false;
  auto rest = s.substr(i);
  auto plus = rest.find('+');
  auto pre = rest.substr(0, plus);
  if (!pre.empty()) {
    if (pre[0] != '-' || !parse_idents(pre.substr(1), true))
      return false;
    v.pre = true;
  }
  if (plus != std::string_view::npos
      && !parse_idents(rest.substr(plus + 1), false))
    return false;
  return true;
}

}  // namespace

const serializer* negotiate(std::string_view vsn) {
  if (vsn.empty())
    vsn = "1.0.0";
  semver v;
  if (!parse_semver(vsn, v))
    return nullptr;
  // "~> X.0.0" is ">= X.0.0 and < X.1.0-0": X.0.0-pre sorts below X.0.0.
  if (v.minor != 0 || (v.pre && v.patch == 0))
    return nullptr;
  if (v.major == 1)
    return &v1_json_serializer_instance();
  if (v.major == 2)
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

}  // namespace json_text

}  // namespace fenix::protocol
