#include "fenix/transport/http.hpp"

#include <cctype>
#include <unordered_map>

namespace fenix::transport {

std::string http_request::header(std::string_view name) const {
  auto i = headers.find(std::string{name});
  return i == headers.end() ? std::string{} : i->second;
}

std::vector<std::pair<std::string, std::string>>
http_request::query_params() const {
  std::vector<std::pair<std::string, std::string>> out;
  std::string_view q = query;
  while (!q.empty()) {
    auto amp = q.find('&');
    auto part = q.substr(0, amp);
    q = amp == std::string_view::npos ? std::string_view{} : q.substr(amp + 1);
    if (part.empty())
      continue;
    auto eq = part.find('=');
    if (eq == std::string_view::npos)
      out.emplace_back(url_decode(part), std::string{});
    else
      out.emplace_back(url_decode(part.substr(0, eq)),
                       url_decode(part.substr(eq + 1)));
  }
  // A repeated name keeps its last value (Plug's rule), in the place where
  // it first appeared: phoenix.js LongPoll sends the app's `token` param
  // first and the session token last.
  std::vector<std::pair<std::string, std::string>> unique;
  unique.reserve(out.size());
  std::unordered_map<std::string, std::size_t> where;
  for (auto& kv : out) {
    auto [i, fresh] = where.try_emplace(kv.first, unique.size());
    if (fresh)
      unique.push_back(std::move(kv));
    else
      unique[i->second].second = std::move(kv.second);
  }
  return unique;
}

std::string http_request::query_param(std::string_view name) const {
  for (auto& [k, v] : query_params())
    if (k == name)
      return v;  // the last value: query_params() keeps one per name
  return {};
}

http_response http_response::json(int status, std::string body) {
  return {status, "application/json; charset=utf-8", std::move(body), {}};
}

http_response http_response::text(int status, std::string body) {
  return {status, "text/plain; charset=utf-8", std::move(body), {}};
}

http_response http_response::empty(int status) {
  return {status, "", std::string{}, {}};
}

std::string url_decode(std::string_view s, bool plus_is_space) {
  auto hexval = [](char c) -> int {
    if (c >= '0' && c <= '9')
      return c - '0';
    if (c >= 'a' && c <= 'f')
      return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
      return c - 'A' + 10;
    return -1;
  };
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '%' && i + 2 < s.size()) {
      int hi = i + 1 < s.size() ? hexval(s[i + 1]) : -1;
      int lo = i + 2 < s.size() ? hexval(s[i + 2]) : -1;
      if (hi >= 0 && lo >= 0) {
        out.push_back(static_cast<char>(hi * 16 + lo));
        i += 2;
        continue;
      }
    }
    out.push_back(plus_is_space && c == '+' ? ' ' : c);
  }
  return out;
}

namespace {

constexpr std::string_view base64url_alphabet =
  "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

}  // namespace

std::string base64url_encode(std::string_view bytes) {
  std::string out;
  out.reserve((bytes.size() * 4 + 2) / 3);
  std::size_t i = 0;
  auto byte = [&](std::size_t k) {
    return static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[k]));
  };
  for (; i + 3 <= bytes.size(); i += 3) {
    auto n = (byte(i) << 16) | (byte(i + 1) << 8) | byte(i + 2);
    out += base64url_alphabet[(n >> 18) & 63];
    out += base64url_alphabet[(n >> 12) & 63];
    out += base64url_alphabet[(n >> 6) & 63];
    out += base64url_alphabet[n & 63];
  }
  auto rest = bytes.size() - i;
  if (rest == 1) {
    auto n = byte(i) << 16;
    out += base64url_alphabet[(n >> 18) & 63];
    out += base64url_alphabet[(n >> 12) & 63];
  } else if (rest == 2) {
    auto n = (byte(i) << 16) | (byte(i + 1) << 8);
    out += base64url_alphabet[(n >> 18) & 63];
    out += base64url_alphabet[(n >> 12) & 63];
    out += base64url_alphabet[(n >> 6) & 63];
  }
  return out;
}

std::optional<std::string> base64_decode(std::string_view in) {
  auto val = [](char c) -> int {
    if (c >= 'A' && c <= 'Z')
      return c - 'A';
    if (c >= 'a' && c <= 'z')
      return c - 'a' + 26;
    if (c >= '0' && c <= '9')
      return c - '0' + 52;
    if (c == '+' || c == '-')
      return 62;
    if (c == '/' || c == '_')
      return 63;
    return -1;
  };
  while (!in.empty() && in.back() == '=')
    in.remove_suffix(1);
  std::string out;
  out.reserve(in.size() * 3 / 4);
  int bits = 0;
  unsigned buf = 0;
  for (char c : in) {
    int v = val(c);
    if (v < 0)
      return std::nullopt;
    buf = (buf << 6) | static_cast<unsigned>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((buf >> bits) & 0xff));
    }
  }
  return out;
}

std::string mime_type(std::string_view path) {
  auto dot = path.rfind('.');
  auto ext =
    dot == std::string_view::npos ? std::string_view{} : path.substr(dot + 1);
  if (ext == "html" || ext == "htm")
    return "text/html; charset=utf-8";
  if (ext == "js" || ext == "mjs")
    return "text/javascript; charset=utf-8";
  if (ext == "css")
    return "text/css; charset=utf-8";
  if (ext == "json" || ext == "map")
    return "application/json";
  if (ext == "png")
    return "image/png";
  if (ext == "svg")
    return "image/svg+xml";
  if (ext == "ico")
    return "image/x-icon";
  return "application/octet-stream";
}

}  // namespace fenix::transport
