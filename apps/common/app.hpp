/// What the bundled apps share (docs/apps.md "Common to all apps"):
/// flags, the JWT session route, the connect callback that verifies the
/// token, /metrics, and the static web page with the official client.
///
///   int main(int argc, char** argv) {
///     auto flags = fenix::apps::parse_flags(argc, argv, "chat", 4000);
///     if (!flags.run) return flags.exit_code;
///     caf::actor_system sys{fenix::apps::system_config(flags)};
///     fenix::endpoint ep{sys, fenix::apps::endpoint_options_for(flags)};
///     auto node = fenix::apps::start_cluster(ep, flags);  // null: no cluster
///     fenix::apps::mount(ep, flags, node.get());  // /api/session, /metrics..
///     ep.channel("room:*", ...);
///     auto rc = ep.run();
///     if (node) node->leave();   // peers drop our presences at once
///     return rc;
///   }
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <caf/actor_system_config.hpp>

#include "fenix/cluster.hpp"
#include "fenix/endpoint.hpp"

namespace fenix::apps {

struct app_flags {
  bool run = true;  // false: exit with exit_code (help or bad flag)
  int exit_code = 0;
  std::string app;  // "chat", "timer" or "pointing"
  std::string host = "127.0.0.1";
  std::uint16_t port = 0;
  std::string secret;  // --secret, else FENIX_SECRET, else random
  std::string db;      // SQLite path; ":memory:" for none
  std::string log_level = "info";
  std::string static_dir;  // the page's files; empty: the embedded copy
  std::chrono::seconds token_ttl{86400};  // --token-ttl: session tokens' life
  // -- cluster (see actors/cluster.hpp) --
  std::string node_host = "127.0.0.1";       // cluster port's address
  std::uint16_t node_port = 0;               // 0: not clustered
  std::vector<std::string> joins;            // HOST:PORT seeds
  std::string node_cert, node_key, node_ca;  // TLS, mutual auth
  bool node_insecure = false;                // plaintext on a non-loopback host
  std::chrono::milliseconds node_heartbeat{200};
  std::chrono::milliseconds node_timeout{2000};
  std::chrono::milliseconds gossip{200};
  // The endpoint options flags set as they are (the rate limits); their
  // defaults are endpoint_options' own.
  endpoint_options limits;
  // --tls-client-verify (applies with --tls-client-ca)
  transport::client_cert_mode tls_client_verify =
    transport::client_cert_mode::require;

  bool clustered() const { return node_port != 0; }
};

/// PubSub and presence shards of a clustered app (must match across nodes).
constexpr std::size_t cluster_shards = 4;

/// Parses the flags of docs/apps.md; prints --help or a one-line error.
app_flags parse_flags(int argc, char** argv, const std::string& app,
                      std::uint16_t default_port);

/// A CAF config sized for this machine (2 scheduler threads).
caf::actor_system_config& system_config();

/// The same, plus what a cluster node needs when `flags.clustered()`
/// (middleman, heartbeat, TLS, message types). Call once.
caf::actor_system_config& system_config(const app_flags& flags);

endpoint_options endpoint_options_for(const app_flags& flags);

/// The cluster options the flags describe.
cluster_options cluster_options_for(const app_flags& flags);

/// Joins the cluster when `flags.clustered()` (null otherwise);
/// `on_remote_broadcast` sees every broadcast from another node. Throws
/// std::runtime_error if the cluster port cannot be opened.
std::unique_ptr<cluster>
start_cluster(endpoint& ep, const app_flags& flags,
              std::function<void(const broadcast&)> on_remote_broadcast = {});

/// Mounts GET / and /assets/*, POST /api/session, GET /metrics, and the
/// connect callback: `token` must be a valid HS256 JWT signed with the
/// secret; the socket gets assigns {"user": sub} and id users_socket:sub.
/// With `node`, /metrics counts the cluster's nodes.
void mount(endpoint& ep, const app_flags& flags, const cluster* node = nullptr);

/// Milliseconds since the epoch.
std::int64_t now_ms();

}  // namespace fenix::apps
