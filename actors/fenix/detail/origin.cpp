#include "fenix/detail/origin.hpp"

#include <algorithm>
#include <cctype>

namespace fenix::detail {

namespace {

std::string lower(std::string_view s) {
  std::string out{s};
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) {
    return static_cast<char>(std::tolower(c));
  });
  return out;
}

std::string default_port(const std::string& scheme) {
  if (scheme == "https" || scheme == "wss")
    return "443";
  return "80";
}

bool host_matches(const std::string& pattern, const std::string& host) {
  if (pattern.rfind("*.", 0) == 0) {
    auto bare = pattern.substr(2);
    if (host == bare)
      return true;
    return host.size() > bare.size() + 1
           && host.compare(host.size() - bare.size(), bare.size(), bare) == 0
           && host[host.size() - bare.size() - 1] == '.';
  }
  return pattern == host;
}

}  // namespace

origin_parts parse_origin(std::string_view origin) {
  origin_parts p;
  auto sep = origin.find("//");
  if (sep != std::string_view::npos) {
    auto scheme = origin.substr(0, sep);
    if (!scheme.empty() && scheme.back() == ':')
      scheme.remove_suffix(1);
    p.scheme = lower(scheme);
    origin.remove_prefix(sep + 2);
  }
  auto slash = origin.find('/');
  if (slash != std::string_view::npos)
    origin = origin.substr(0, slash);
  // IPv6 literals keep their brackets; the port follows the last ':'.
  auto colon = origin.rfind(':');
  auto bracket = origin.rfind(']');
  if (colon != std::string_view::npos
      && (bracket == std::string_view::npos || colon > bracket)) {
    p.port = std::string{origin.substr(colon + 1)};
    origin = origin.substr(0, colon);
  }
  p.host = lower(origin);
  return p;
}

bool origin_allowed(const endpoint_options& opts, const std::string& origin,
                    const std::string& host_header) {
  switch (opts.check_origin) {
  case origin_check::off:
    return true;
  case origin_check::conn: {
    auto o = parse_origin(origin);
    auto h = parse_origin("//" + host_header);
    auto oport = o.port.empty() ? default_port(o.scheme) : o.port;
    auto hport = h.port.empty() ? default_port(o.scheme) : h.port;
    return !o.host.empty() && o.host == h.host && oport == hport;
  }
  case origin_check::list: {
    auto o = parse_origin(origin);
    for (auto& allowed : opts.allowed_origins) {
      auto a = parse_origin(allowed);
      if (!a.scheme.empty() && a.scheme != o.scheme)
        continue;
      if (!a.port.empty()
          && a.port != (o.port.empty() ? default_port(o.scheme) : o.port))
        continue;
      if (!a.host.empty() && !host_matches(a.host, o.host))
        continue;
      return true;
    }
    return false;
  }
  }
  return false;
}

}  // namespace fenix::detail
