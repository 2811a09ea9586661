/// Plain HTTP request/response values handed between the Beast transport and
/// the rest of fenix, so that nothing outside transport/server.cpp sees Beast.
///
///   server.route("GET", "/health", [](const http_request&) {
///     return http_response::json(200, R"({"status":"ok"})");
///   });
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace fenix::transport {

/// Header names are stored lower-case.
using header_map = std::multimap<std::string, std::string>;

struct http_request {
  std::string method;  // "GET", "POST", ...
  std::string target;  // path plus query, as sent
  std::string path;    // percent-decoded path without the query
  std::string query;   // raw query string without '?'
  header_map headers;  // lower-case names
  std::string body;
  std::string peer_address;
  std::uint16_t peer_port = 0;
  bool secure = false;         // came over TLS (https, wss)
  std::string client_subject;  // TLS: the verified client certificate's
                               // subject ("/CN=..."), or ""

  /// The first value of a header, or "" (name in lower case).
  std::string header(std::string_view name) const;

  /// Decoded query parameters (application/x-www-form-urlencoded), one per
  /// name: a repeated name takes its LAST value, as Plug does, in the place
  /// it first appeared ("a=1&b=2&a=3" gives a=3, b=2).
  std::vector<std::pair<std::string, std::string>> query_params() const;

  /// The last value of a query parameter, or "".
  std::string query_param(std::string_view name) const;
};

struct http_response {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
  header_map headers;  // extra headers

  static http_response json(int status, std::string body);
  static http_response text(int status, std::string body);
  static http_response empty(int status);
};

/// Percent-decodes `s` ('+' becomes a space when `plus_is_space`).
std::string url_decode(std::string_view s, bool plus_is_space = true);

/// Encodes as base64url (RFC 4648 section 5) without padding.
std::string base64url_encode(std::string_view bytes);

/// Decodes base64, standard or URL-safe alphabet, padding optional;
/// nullopt on any other character.
std::optional<std::string> base64_decode(std::string_view s);

/// A MIME type for a file name, by extension.
std::string mime_type(std::string_view path);

}  // namespace fenix::transport
