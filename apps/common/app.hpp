/// What both bundled apps share (docs/apps.md "Common to both apps"):
/// flags, the JWT session route, the connect callback that verifies the
/// token, /metrics, and the static web page with the official client.
///
///   int main(int argc, char** argv) {
///     auto flags = fenix::apps::parse_flags(argc, argv, "chat", 4000);
///     if (!flags.run) return flags.exit_code;
///     caf::actor_system sys{fenix::apps::system_config()};
///     fenix::endpoint ep{sys, fenix::apps::endpoint_options_for(flags)};
///     fenix::apps::mount(ep, flags);   // /api/session, /metrics, /, ...
///     ep.channel("room:*", ...);
///     return ep.run();
///   }
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <caf/actor_system_config.hpp>

#include "actors/endpoint.hpp"

namespace fenix::apps {

struct app_flags {
  bool run = true;     // false: exit with exit_code (help or bad flag)
  int exit_code = 0;
  std::string app;     // "chat" or "timer"
  std::string host = "127.0.0.1";
  std::uint16_t port = 0;
  std::string secret;  // --secret, else FENIX_SECRET, else random
  std::string db;      // SQLite path; ":memory:" for none
  std::string log_level = "info";
  std::uint16_t node_port = 0;     // cluster: this node's port
  std::vector<std::string> joins;  // cluster: HOST:PORT seeds
  std::string static_dir;          // the page's files
};

/// Parses the flags of docs/apps.md; prints --help or a one-line error.
app_flags parse_flags(int argc, char** argv, const std::string& app,
                      std::uint16_t default_port);

/// A CAF config sized for this machine (2 scheduler threads).
caf::actor_system_config& system_config();

endpoint_options endpoint_options_for(const app_flags& flags);

/// Mounts GET / and /assets/*, POST /api/session, GET /metrics, and the
/// connect callback: `token` must be a valid HS256 JWT signed with the
/// secret; the socket gets assigns {"user": sub} and id users_socket:sub.
void mount(endpoint& ep, const app_flags& flags);

/// Milliseconds since the epoch.
std::int64_t now_ms();

} // namespace fenix::apps
