/// Internal: Phoenix's check_origin rules for the WebSocket upgrade.
///
/// An allowed-origin entry is "scheme://host:port" where every part given
/// must match: "https://a.com" (scheme and host), "//b.com:888" (host and
/// port), "//*.c.com" (c.com and any subdomain of it).
#pragma once

#include <string>
#include <string_view>

#include "fenix/endpoint.hpp"

namespace fenix::detail {

/// Splits "scheme://host:port" (scheme and port optional).
struct origin_parts {
  std::string scheme;
  std::string host;
  std::string port;  // "" when absent
};

origin_parts parse_origin(std::string_view origin);

/// True if `origin` (the Origin header) passes `opts.check_origin`;
/// `host_header` is the request's Host header (for origin_check::conn).
bool origin_allowed(const endpoint_options& opts, const std::string& origin,
                    const std::string& host_header);

}  // namespace fenix::detail
